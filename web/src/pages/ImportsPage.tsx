import { Badge, Progress, Stack, Table, Text, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { ApiError, type EnvelopeError, energyApi, unwrap } from "../api/client";
import type { components } from "../api/generated/energy";
import { session } from "../api/session";
import { FileUpload } from "../components/FileUpload";
import { ScrollTable } from "../components/ScrollTable";
import { Section } from "../components/Section";
import { QueryView } from "../components/States";
import { formatDateTime } from "../format";

type ImportOut = components["schemas"]["ImportOut"];

async function upload(communityId: number, file: File): Promise<ImportOut> {
  const form = new FormData();
  form.set("community_id", String(communityId));
  form.set("file", file);
  const token = await session.accessToken();
  const response = await fetch("/api/energy/imports/", {
    method: "POST",
    body: form,
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
  const body = (await response.json().catch(() => ({}))) as { data?: ImportOut; errors?: EnvelopeError[] };
  if (!response.ok || !body.data) {
    throw new ApiError(response.status, body.errors?.length ? body.errors : [{ code: `http_${response.status}`, message: response.statusText }]);
  }
  return body.data;
}

export default function ImportsPage({ communityId }: { communityId: number }) {
  const { t } = useTranslation();
  const queries = useQueryClient();
  const [file, setFile] = useState<File | null>(null);
  const history = useQuery({
    queryKey: ["imports", communityId],
    queryFn: () => unwrap(energyApi.GET("/api/energy/imports/", { params: { query: { community_id: communityId } } })),
  });
  const send = useMutation({
    mutationFn: () => upload(communityId, file!),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ["imports", communityId] }),
  });
  // A file is validated whole: each error names the file's line and column.
  const rowErrors = send.error instanceof ApiError ? send.error.errors : [];

  return (
    <Stack>
      <Title order={2}>{t("imports.title")}</Title>
      <Section
        title={t("imports.upload")}
        onSubmit={() => {
          if (file) send.mutate();
        }}
      >
        <Text size="sm" c="dimmed">
          {t("imports.hint")}
        </Text>
        <FileUpload
          label={t("imports.file")}
          accept=".csv,.xml,.zip"
          file={file}
          onChange={setFile}
          error={rowErrors.length ? t("imports.rejected", { count: rowErrors.length }) : undefined}
          sending={send.isPending}
          submit={t("imports.send")}
          w={320}
        />
        {send.isPending && <Progress value={100} animated aria-label={t("imports.sending")} />}
        {send.data && (
          <Badge color="teal.9" size="lg">
            {send.data.unchanged ? t("imports.unchanged") : t("imports.written", { count: send.data.values_written })}
          </Badge>
        )}
        {rowErrors.length > 0 && (
          <Table role="alert" aria-label={t("imports.errors")}>
            <Table.Thead>
              <Table.Tr>
                <Table.Th scope="col">{t("imports.where")}</Table.Th>
                <Table.Th scope="col">{t("imports.problem")}</Table.Th>
                <Table.Th scope="col">{t("imports.expected")}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rowErrors.slice(0, 200).map((e, i) => (
                <Table.Tr key={i}>
                  <Table.Td>{e.field ?? "—"}</Table.Td>
                  <Table.Td>{e.message}</Table.Td>
                  <Table.Td>{e.expected ?? "—"}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Section>
      <QueryView query={history} empty={t("imports.empty")}>
        {(rows) => (
          <ScrollTable
            minWidth={560}
            columns={[t("imports.file"), t("imports.when"), { label: t("imports.values"), numeric: true }, t("imports.warnings")]}
          >
            {rows.map((i) => (
              <Table.Tr key={i.id}>
                <Table.Td>{i.file_name}</Table.Td>
                <Table.Td>{formatDateTime(i.created_at)}</Table.Td>
                <Table.Td className="num">
                  {i.values_written} / {i.values_total}
                </Table.Td>
                <Table.Td>{i.warnings.length ? i.warnings.map((w) => String(w.message ?? JSON.stringify(w))).join("; ") : "—"}</Table.Td>
              </Table.Tr>
            ))}
          </ScrollTable>
        )}
      </QueryView>
    </Stack>
  );
}
