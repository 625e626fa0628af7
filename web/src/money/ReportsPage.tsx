import { Badge, Button, Group, NativeSelect, Progress, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { reportingApi, unwrap } from "../api/client";
import type { components } from "../api/generated/reporting";
import { ScrollTable } from "../components/ScrollTable";
import { Section } from "../components/Section";
import { FormErrors, QueryView, fieldError } from "../components/States";
import { formatDateTime, formatMonth, italianToday } from "../format";
import { download } from "./api";
import { formatBytes, previousMonth } from "./logic";
import { CommunityGuard } from "./CommunityGuard";

type Report = components["schemas"]["ReportOut"];
type Kind = "MONTHLY_COMMUNITY" | "ANNUAL";
type Format = "PDF" | "CSV" | "XLSX";

const STATUS_COLOR: Record<string, string> = { DONE: "teal.9", FAILED: "red.9", QUEUED: "gray.7", RUNNING: "blue.9" };
const EXTENSION: Record<string, string> = { PDF: "pdf", CSV: "csv", XLSX: "xlsx" };

export default function ReportsRoute() {
  return <CommunityGuard>{(id) => <ReportsPage communityId={id} />}</CommunityGuard>;
}

function ReportsPage({ communityId }: { communityId: number }) {
  const { t, i18n } = useTranslation(undefined, { keyPrefix: "money.reports" });
  const queries = useQueryClient();
  const [kind, setKind] = useState<Kind>("MONTHLY_COMMUNITY");
  const [month, setMonth] = useState(previousMonth(italianToday()));
  const [year, setYear] = useState(italianToday().slice(0, 4));
  const [format, setFormat] = useState<Format>("PDF");
  const [language, setLanguage] = useState<"it" | "en">(i18n.language.startsWith("en") ? "en" : "it");

  const reports = useQuery({
    queryKey: ["reports", communityId],
    queryFn: () => unwrap(reportingApi.GET("/api/reports/", { params: { query: { community_id: communityId, per_page: 50 } } })),
    // Reports are jobs: poll while one is still being prepared.
    refetchInterval: (query) => ((query.state.data ?? []).some((r) => r.status === "QUEUED" || r.status === "RUNNING") ? 1500 : false),
  });
  const request = useMutation({
    mutationFn: () =>
      unwrap(
        reportingApi.POST("/api/reports/", {
          body: { kind, community_id: communityId, period: kind === "ANNUAL" ? year : month, format, language },
        }),
      ),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ["reports", communityId] }),
  });

  return (
    <Stack>
      <Title order={2}>{t("title")}</Title>
      <Section title={t("newTitle")} onSubmit={() => request.mutate()}>
        <FormErrors error={request.error} fields={["kind", "period", "format", "language"]} />
        <Group align="start" wrap="wrap">
          <NativeSelect
            label={t("kind")}
            value={kind}
            onChange={(e) => setKind(e.currentTarget.value as Kind)}
            data={(["MONTHLY_COMMUNITY", "ANNUAL"] as const).map((k) => ({ value: k, label: t(`kinds.${k}`) }))}
            error={fieldError(request.error, "kind")}
          />
          {kind === "ANNUAL" ? (
            <TextInput
              label={t("year")}
              inputMode="numeric"
              value={year}
              onChange={(e) => setYear(e.currentTarget.value)}
              error={fieldError(request.error, "period")}
              w={110}
            />
          ) : (
            <TextInput
              type="month"
              label={t("period")}
              value={month}
              onChange={(e) => setMonth(e.currentTarget.value)}
              error={fieldError(request.error, "period")}
            />
          )}
          <NativeSelect
            label={t("format")}
            value={format}
            onChange={(e) => setFormat(e.currentTarget.value as Format)}
            data={["PDF", "CSV", "XLSX"]}
            error={fieldError(request.error, "format")}
          />
          <NativeSelect
            label={t("language")}
            value={language}
            onChange={(e) => setLanguage(e.currentTarget.value as "it" | "en")}
            data={(["it", "en"] as const).map((l) => ({ value: l, label: t(`languages.${l}`) }))}
          />
        </Group>
        <Group>
          <Button type="submit" loading={request.isPending}>
            {t("request")}
          </Button>
        </Group>
      </Section>
      <Section title={t("listTitle")}>
        <QueryView query={reports} empty={t("empty")}>
          {(rows) => (
            <ScrollTable
              label={t("listTitle")}
              minWidth={680}
              columns={[
                t("kind"),
                t("period"),
                t("format"),
                t("status"),
                { label: t("size"), numeric: true },
                t("requested"),
                { label: t("download"), hidden: true },
              ]}
            >
              {rows.map((r) => (
                <ReportRow key={r.id} report={r} />
              ))}
            </ScrollTable>
          )}
        </QueryView>
      </Section>
    </Stack>
  );
}

function ReportRow({ report }: { report: Report }) {
  const { t, i18n } = useTranslation(undefined, { keyPrefix: "money.reports" });
  const fetchFile = useMutation({
    mutationFn: () =>
      download(report.download ?? `/api/reports/${report.id}/file`, report.filename ?? `report-${report.id}.${EXTENSION[report.format] ?? "bin"}`),
  });
  const working = report.status === "QUEUED" || report.status === "RUNNING";
  return (
    <Table.Tr data-testid="report-row">
      <Table.Td>{t(`kinds.${report.kind}`, report.kind)}</Table.Td>
      <Table.Td>{report.period.length === 7 ? formatMonth(report.period, i18n.language) : report.period}</Table.Td>
      <Table.Td>{report.format}</Table.Td>
      <Table.Td>
        <Badge color={STATUS_COLOR[report.status] ?? "gray.7"}>{t(`statuses.${report.status}`, report.status)}</Badge>
        {working && <Progress value={report.progress} size="sm" mt={4} aria-label={`${report.progress}%`} />}
        {report.error && (
          <Text size="xs" c="red.9">
            {report.error}
          </Text>
        )}
      </Table.Td>
      <Table.Td className="num">{formatBytes(report.size_bytes)}</Table.Td>
      <Table.Td>{formatDateTime(report.created_at)}</Table.Td>
      <Table.Td>
        {report.status === "DONE" && (
          <Button
            size="xs"
            variant="default"
            onClick={() => fetchFile.mutate()}
            loading={fetchFile.isPending}
            aria-label={t("downloadOf", { id: report.id, format: report.format })}
          >
            {t("download")}
          </Button>
        )}
        {fetchFile.isError && (
          <Text size="xs" c="red.9" role="alert">
            {fetchFile.error.message}
          </Text>
        )}
      </Table.Td>
    </Table.Tr>
  );
}
