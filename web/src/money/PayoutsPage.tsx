import { Alert, Badge, Button, Group, Modal, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { ApiError, cerApi, economicApi, unwrap } from "../api/client";
import type { components } from "../api/generated/economic";
import { FileUpload } from "../components/FileUpload";
import { ScrollTable } from "../components/ScrollTable";
import { Section } from "../components/Section";
import { ErrorState, FormErrors, QueryView, fieldError } from "../components/States";
import { formatDate, formatDateTime, formatEuro, formatMonth, italianToday, nextDay } from "../format";
import { download, uploadForm } from "./api";
import { owedToMembers } from "./logic";
import { CommunityGuard } from "./CommunityGuard";

type Payout = components["schemas"]["PayoutOut"];
type StatusReport = components["schemas"]["StatusReportOut"];

const STATUS_COLOR: Record<string, string> = {
  CREATED: "blue.9",
  PARTLY_SETTLED: "orange.9",
  COMPLETED: "teal.9",
  PENDING: "gray.7",
  PROCESSED: "teal.9",
  FAILED: "red.9",
};

export default function PayoutsRoute() {
  return <CommunityGuard>{(id) => <PayoutsPage communityId={id} />}</CommunityGuard>;
}

function PayoutsPage({ communityId }: { communityId: number }) {
  const { t } = useTranslation(undefined, { keyPrefix: "money.payouts" });
  const { t: tc } = useTranslation();
  const [open, setOpen] = useState<number | null>(null);
  const payouts = useQuery({
    queryKey: ["payouts", communityId],
    queryFn: () => unwrap(economicApi.GET("/api/economic/payouts/", { params: { query: { community_id: communityId } } })),
  });
  return (
    <Stack>
      <Title order={2}>{t("title")}</Title>
      <AccountForm communityId={communityId} />
      <ApprovedRuns communityId={communityId} onCreated={(p) => setOpen(p.id)} />
      <Section title={t("batchesTitle")}>
        <QueryView query={payouts} empty={t("batchesEmpty")}>
          {(list) => (
            <ScrollTable
              label={t("batchesTitle")}
              minWidth={680}
              columns={[
                t("batch"),
                t("executionDate"),
                t("status"),
                { label: t("transfers"), numeric: true },
                { label: t("total"), numeric: true },
                t("createdOn"),
                { label: t("download"), hidden: true },
              ]}
            >
              {list.map((p) => (
                <Table.Tr key={p.id} data-testid="payout-row">
                  <Table.Td>#{p.id}</Table.Td>
                  <Table.Td>{formatDate(p.execution_date)}</Table.Td>
                  <Table.Td>
                    <Badge color={STATUS_COLOR[p.status] ?? "gray.7"}>{t(`statuses.${p.status}`, p.status)}</Badge>
                  </Table.Td>
                  <Table.Td className="num">{p.transfers.length}</Table.Td>
                  <Table.Td className="num" data-testid="payout-total">{formatEuro(p.total)}</Table.Td>
                  <Table.Td>{formatDateTime(p.created_at)}</Table.Td>
                  <Table.Td>
                    <Group gap="xs" wrap="nowrap">
                      <DownloadButton payout={p} />
                      <Button size="xs" variant="subtle" onClick={() => setOpen(p.id)} aria-label={t("showOf", { id: p.id })}>
                        {tc("common.details")}
                      </Button>
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </ScrollTable>
          )}
        </QueryView>
      </Section>
      {open !== null && <PayoutDetail payoutId={open} communityId={communityId} onClose={() => setOpen(null)} />}
    </Stack>
  );
}

function DownloadButton({ payout }: { payout: Payout }) {
  const { t } = useTranslation(undefined, { keyPrefix: "money.payouts" });
  const fetchFile = useMutation({ mutationFn: () => download(payout.file_url, `${payout.message_id}.xml`) });
  return (
    <>
      <Button
        size="xs"
        variant="default"
        onClick={() => fetchFile.mutate()}
        loading={fetchFile.isPending}
        aria-label={t("downloadOf", { id: payout.id })}
      >
        {t("download")}
      </Button>
      {fetchFile.isError && (
        <Text size="xs" c="red.9" role="alert">
          {fetchFile.error.message}
        </Text>
      )}
    </>
  );
}

const ACCOUNT_FIELDS = ["debtor_name", "iban", "bic", "minimum_amount"] as const;

function AccountForm({ communityId }: { communityId: number }) {
  const { t } = useTranslation(undefined, { keyPrefix: "money.payouts" });
  const queries = useQueryClient();
  const account = useQuery({
    queryKey: ["payout-account", communityId],
    // No account yet is a 404: the form starts empty.
    queryFn: async () => {
      try {
        return await unwrap(economicApi.GET("/api/economic/payouts/account/", { params: { query: { community_id: communityId } } }));
      } catch (error) {
        if (error instanceof ApiError && error.notFound) return null;
        throw error;
      }
    },
  });
  const [form, setForm] = useState({ debtor_name: "", iban: "", bic: "", minimum_amount: "0.00" });
  useEffect(() => {
    if (account.data)
      setForm({
        debtor_name: account.data.debtor_name,
        iban: account.data.iban,
        bic: account.data.bic ?? "",
        minimum_amount: account.data.minimum_amount,
      });
  }, [account.data]);
  const save = useMutation({
    mutationFn: () =>
      unwrap(
        economicApi.PUT("/api/economic/payouts/account/", {
          body: {
            community_id: communityId,
            debtor_name: form.debtor_name.trim(),
            iban: form.iban.replace(/\s+/g, "").toUpperCase(),
            bic: form.bic.trim() || null,
            // Italian decimal comma accepted; the service keeps it as Decimal.
            minimum_amount: form.minimum_amount.trim().replace(",", ".") || "0",
          },
        }),
      ),
    onSuccess: (saved) => queries.setQueryData(["payout-account", communityId], saved),
  });
  const set = (name: keyof typeof form) => (e: React.ChangeEvent<HTMLInputElement>) => setForm({ ...form, [name]: e.currentTarget.value });

  return (
    <Section title={t("accountTitle")} onSubmit={() => save.mutate()}>
      <Text size="sm" c="dimmed">
        {t("accountHint")}
      </Text>
      {account.isError && <ErrorState error={account.error} />}
      {account.data === null && !save.isSuccess && (
        <Alert color="yellow" variant="default">
          {t("noAccount")}
        </Alert>
      )}
      <FormErrors error={save.error} fields={ACCOUNT_FIELDS} />
      <Group align="start" grow preventGrowOverflow={false} wrap="wrap">
        <TextInput label={t("debtorName")} required value={form.debtor_name} onChange={set("debtor_name")} error={fieldError(save.error, "debtor_name")} miw={200} />
        <TextInput label={t("iban")} required value={form.iban} onChange={set("iban")} error={fieldError(save.error, "iban")} autoComplete="off" miw={260} />
        <TextInput label={t("bic")} value={form.bic} onChange={set("bic")} error={fieldError(save.error, "bic")} miw={140} />
        <TextInput label={t("minimum")} inputMode="decimal" value={form.minimum_amount} onChange={set("minimum_amount")} error={fieldError(save.error, "minimum_amount")} miw={120} />
      </Group>
      <Group>
        <Button type="submit" loading={save.isPending}>
          {t("saveAccount")}
        </Button>
        {save.isSuccess && (
          <Text size="sm" c="teal.9" role="status">
            {t("accountSaved")}
          </Text>
        )}
      </Group>
    </Section>
  );
}

function ApprovedRuns({ communityId, onCreated }: { communityId: number; onCreated: (p: Payout) => void }) {
  const { t, i18n } = useTranslation(undefined, { keyPrefix: "money.payouts" });
  const queries = useQueryClient();
  const [execution, setExecution] = useState(nextDay(italianToday()));
  const runs = useQuery({
    queryKey: ["settlements", communityId],
    queryFn: () => unwrap(economicApi.GET("/api/economic/settlements/", { params: { query: { community_id: communityId } } })),
  });
  const create = useMutation({
    mutationFn: () =>
      unwrap(economicApi.POST("/api/economic/payouts/", { body: { community_id: communityId, execution_date: execution || null } })),
    onSuccess: (payout) => {
      void queries.invalidateQueries({ queryKey: ["payouts", communityId] });
      onCreated(payout);
    },
  });
  const approved = (runs.data ?? []).filter((r) => r.kind === "FINAL" && r.status === "COMPLETED");
  return (
    <Section title={t("approvedTitle")}>
      <Text size="sm" c="dimmed">
        {t("approvedHint")}
      </Text>
      <QueryView query={runs} isEmpty={() => approved.length === 0} empty={t("approvedEmpty")}>
        {() => (
          <ScrollTable
            label={t("approvedTitle")}
            minWidth={560}
            columns={[
              t("period"),
              t("run"),
              { label: t("membersTotal"), numeric: true },
              { label: t("communityTotal"), numeric: true },
              t("approvedAt"),
            ]}
          >
            {approved.map((run) => (
              <Table.Tr key={run.id} data-testid={`approved-${run.period}`}>
                <Table.Td>{formatMonth(run.period, i18n.language)}</Table.Td>
                <Table.Td>#{run.id}</Table.Td>
                <Table.Td className="num" data-testid="approved-members">{formatEuro(owedToMembers(run))}</Table.Td>
                <Table.Td className="num">{formatEuro(run.community_eur)}</Table.Td>
                <Table.Td>{formatDateTime(run.finished_at ?? run.created_at)}</Table.Td>
              </Table.Tr>
            ))}
          </ScrollTable>
        )}
      </QueryView>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate();
        }}
      >
        <Stack>
          <FormErrors error={create.error} fields={["execution_date"]} />
          <Group align="end">
            <TextInput
              type="date"
              label={t("executionDate")}
              value={execution}
              onChange={(e) => setExecution(e.currentTarget.value)}
              error={fieldError(create.error, "execution_date")}
            />
            <Button type="submit" loading={create.isPending} disabled={approved.length === 0}>
              {t("create")}
            </Button>
          </Group>
          {create.isSuccess && (
            <Text size="sm" c="teal.9" role="status">
              {t("created", { count: create.data.transfers.length, total: formatEuro(create.data.total) })}
            </Text>
          )}
        </Stack>
      </form>
    </Section>
  );
}

function PayoutDetail({ payoutId, communityId, onClose }: { payoutId: number; communityId: number; onClose: () => void }) {
  const { t } = useTranslation(undefined, { keyPrefix: "money.payouts" });
  const { t: tc } = useTranslation();
  const queries = useQueryClient();
  const [file, setFile] = useState<File | null>(null);
  const payout = useQuery({
    queryKey: ["payout", payoutId],
    queryFn: () => unwrap(economicApi.GET("/api/economic/payouts/{payout_id}/", { params: { path: { payout_id: payoutId } } })),
  });
  const members = useQuery({
    queryKey: ["members", communityId],
    queryFn: () =>
      unwrap(cerApi.GET("/api/cer/{cer_id}/members/", { params: { path: { cer_id: communityId }, query: { per_page: 100 } } })),
  });
  const upload = useMutation({
    mutationFn: () => uploadForm<StatusReport>(`/api/economic/payouts/${payoutId}/status-report/`, { file: file! }),
    onSuccess: (report) => {
      queries.setQueryData(["payout", payoutId], report.payout);
      void queries.invalidateQueries({ queryKey: ["payouts", communityId] });
      setFile(null);
    },
  });
  const name = (userId: number) => {
    const m = members.data?.find((x) => x.user_id === userId);
    return m ? [m.first_name, m.last_name].filter(Boolean).join(" ") || m.username || `#${userId}` : `#${userId}`;
  };
  const batch = payout.data;
  return (
    <Modal
      opened
      closeButtonProps={{ "aria-label": tc("common.close") }}
      onClose={onClose}
      title={batch ? t("batchTitle", { id: batch.id, message: batch.message_id }) : t("batch")}
      size="xl"
    >
      <QueryView query={payout}>
        {(data) => (
          <Stack>
            <Group justify="space-between">
              <Text>
                {formatDate(data.execution_date)} · {t("total")} <strong>{formatEuro(data.total)}</strong> ·{" "}
                {t(`statuses.${data.status}`, data.status)}
              </Text>
              <DownloadButton payout={data} />
            </Group>
            <ScrollTable
              label={t("transfers")}
              minWidth={620}
              columns={[t("creditor"), t("ibanEnd"), { label: t("amount"), numeric: true }, t("status"), t("reason")]}
            >
              {data.transfers.map((tr) => (
                <Table.Tr key={tr.id} data-testid="transfer-row">
                  <Table.Td>{tr.creditor_name}</Table.Td>
                  <Table.Td>…{tr.iban_last4}</Table.Td>
                  <Table.Td className="num">{formatEuro(tr.amount)}</Table.Td>
                  <Table.Td>
                    <Badge color={STATUS_COLOR[tr.status] ?? "gray.7"}>{t(`statuses.${tr.status}`, tr.status)}</Badge>
                    {tr.decided_at && (
                      <Text size="xs" c="dimmed">
                        {formatDateTime(tr.decided_at)}
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>{tr.reason ?? ""}</Table.Td>
                </Table.Tr>
              ))}
            </ScrollTable>
            {data.left_out.length > 0 && (
              <>
                <Title order={4} size="h5">
                  {t("leftOutTitle")}
                </Title>
                <Table>
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th scope="col">{t("member")}</Table.Th>
                      <Table.Th scope="col" className="num">{t("amount")}</Table.Th>
                      <Table.Th scope="col">{t("reason")}</Table.Th>
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {data.left_out.map((item) => (
                      <Table.Tr key={item.user_id}>
                        <Table.Td>{name(item.user_id)}</Table.Td>
                        <Table.Td className="num">{formatEuro(item.amount)}</Table.Td>
                        <Table.Td>{t(`reasons.${item.reason}`, item.reason)}</Table.Td>
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              </>
            )}
            <form
              onSubmit={(e) => {
                e.preventDefault();
                if (file) upload.mutate();
              }}
            >
              <Stack gap="xs">
                <Title order={4} size="h5">
                  {t("reportTitle")}
                </Title>
                <FormErrors error={upload.error} fields={["file"]} />
                <FileUpload
                  label={t("reportFile")}
                  description={t("reportHint")}
                  accept=".xml,application/xml,text/xml"
                  file={file}
                  onChange={setFile}
                  error={fieldError(upload.error, "file")}
                  sending={upload.isPending}
                  submit={t("upload")}
                  miw={280}
                />
                {upload.isSuccess && (
                  <Text size="sm" c="teal.9" role="status" data-testid="status-report-applied">
                    {t("reportApplied", {
                      processed: upload.data.processed,
                      failed: upload.data.failed,
                      pending: upload.data.still_pending,
                      unchanged: upload.data.unchanged,
                    })}
                  </Text>
                )}
              </Stack>
            </form>
          </Stack>
        )}
      </QueryView>
    </Modal>
  );
}
