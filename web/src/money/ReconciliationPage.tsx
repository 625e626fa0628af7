import { Alert, Badge, Button, Group, SimpleGrid, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { economicApi, unwrap } from "../api/client";
import { ScrollTable } from "../components/ScrollTable";
import { Section } from "../components/Section";
import { Stat } from "../components/Stat";
import { Empty, FormErrors, QueryView, fieldError } from "../components/States";
import { formatDate, formatDateTime, formatEuro, formatMonth, italianToday } from "../format";
import { type Compared, type Reconciliation } from "./api";
import { centsText, figure, previousMonth } from "./logic";
import { CommunityGuard } from "./CommunityGuard";

const STATUS_COLOR: Record<string, string> = { MATCHED: "teal.9", MISMATCH: "red.9", INCOMPLETE: "gray.7" };
const JOB_COLOR: Record<string, string> = { COMPLETED: "teal.9", FAILED: "red.9", QUEUED: "gray.7", RUNNING: "blue.9" };

export default function ReconciliationRoute() {
  return <CommunityGuard>{(id) => <ReconciliationPage communityId={id} />}</CommunityGuard>;
}

function ReconciliationPage({ communityId }: { communityId: number }) {
  const { t, i18n } = useTranslation(undefined, { keyPrefix: "money.reconciliation" });
  const [month, setMonth] = useState(previousMonth(italianToday()));
  const valid = /^\d{4}-(0[1-9]|1[0-2])$/.test(month);
  const result = useQuery({
    queryKey: ["reconciliation", communityId, month],
    enabled: valid,
    queryFn: () =>
      unwrap(
        economicApi.GET("/api/economic/reconciliations/", { params: { query: { community_id: communityId, period: month } } }),
      ).then((found) => found as unknown as Reconciliation),
  });
  return (
    <Stack>
      <Title order={2}>{t("title")}</Title>
      <Group align="end">
        <TextInput type="month" label={t("month")} value={month} onChange={(e) => setMonth(e.currentTarget.value)} />
        <Text size="lg" fw={600} pb={6}>
          {valid ? formatMonth(month, i18n.language) : ""}
        </Text>
      </Group>
      <SyncPanel communityId={communityId} month={month} />
      {valid && <QueryView query={result}>{(data) => <Figures data={data} />}</QueryView>}
    </Stack>
  );
}

function SyncPanel({ communityId, month }: { communityId: number; month: string }) {
  const { t } = useTranslation(undefined, { keyPrefix: "money.reconciliation" });
  const queries = useQueryClient();
  const status = useQuery({
    queryKey: ["gse-status", communityId],
    queryFn: () => unwrap(economicApi.GET("/api/economic/gse/status/", { params: { query: { community_id: communityId } } })),
    // A sync is a job the GSE worker runs: poll while one is waiting or running.
    refetchInterval: (query) => ((query.state.data?.jobs ?? []).some((j) => j.status === "QUEUED" || j.status === "RUNNING") ? 2000 : false),
  });
  const sync = useMutation({
    mutationFn: () => unwrap(economicApi.POST("/api/economic/gse/sync/", { body: { community_id: communityId, months: [month] } })),
    onSuccess: () => {
      void queries.invalidateQueries({ queryKey: ["gse-status", communityId] });
      void queries.invalidateQueries({ queryKey: ["reconciliation", communityId] });
    },
  });
  return (
    <Section title={t("syncTitle")}>
      <QueryView query={status}>
        {(data) => (
          <>
            <Text size="sm">
              {data.credentials
                ? `${t("credentials")}: ${t("clientId")} ${data.credentials.client_id}${data.credentials.configuration_id ? ` · ${t("configuration")} ${data.credentials.configuration_id}` : ""}`
                : t("noCredentials")}
              {" · "}
              {t("circuit")}: {t(`circuits.${data.circuit}`, data.circuit)}
            </Text>
            <FormErrors error={sync.error} fields={["months"]} />
            {fieldError(sync.error, "months") && (
              <Alert color="red" role="alert">
                {fieldError(sync.error, "months")}
              </Alert>
            )}
            <Group>
              <Button onClick={() => sync.mutate()} loading={sync.isPending} disabled={!/^\d{4}-\d{2}$/.test(month)}>
                {t("sync")}
              </Button>
            </Group>
            <Title order={4} size="h5">
              {t("jobs")}
            </Title>
            {data.jobs.length === 0 ? (
              <Empty>{t("jobsEmpty")}</Empty>
            ) : (
              <ScrollTable
                label={t("jobs")}
                minWidth={560}
                columns={[t("job"), t("months"), t("jobStatus"), t("requestedAt"), t("finishedAt")]}
              >
                {data.jobs.map((job) => (
                  <Table.Tr key={job.id} data-testid="gse-job">
                    <Table.Td>#{job.id}</Table.Td>
                    <Table.Td>{job.months.join(", ")}</Table.Td>
                    <Table.Td>
                      <Badge color={JOB_COLOR[job.status] ?? "gray.7"}>{t(`jobStatuses.${job.status}`, job.status)}</Badge>
                      {job.errors?.length ? (
                        <Text size="xs" c="red.9">
                          {job.errors.map((e) => String(e.message ?? e.code ?? JSON.stringify(e))).join(" · ")}
                        </Text>
                      ) : null}
                    </Table.Td>
                    <Table.Td>{formatDateTime(job.created_at)}</Table.Td>
                    <Table.Td>{formatDateTime(job.finished_at)}</Table.Td>
                  </Table.Tr>
                ))}
              </ScrollTable>
            )}
          </>
        )}
      </QueryView>
    </Section>
  );
}

function Figures({ data }: { data: Reconciliation }) {
  const { t } = useTranslation(undefined, { keyPrefix: "money.reconciliation" });
  const f = data.figures;
  const p = data.payments;
  const field = (name: string) => t(`fields.${name}`, name);
  return (
    <>
      <Section
        title={t("figuresTitle")}
        actions={
          <Badge size="lg" color={STATUS_COLOR[f.status] ?? "gray.7"} data-testid="reconciliation-status">
            {t(`statuses.${f.status}`, f.status)}
          </Badge>
        }
      >
        {f.status === "INCOMPLETE" ? (
          <Alert color="gray" variant="light">
            {t("incomplete", { missing: (f.missing ?? []).map((m) => t(`missing.${m}`, m)).join(", ") })}
          </Alert>
        ) : (
          <>
            <Text size="sm">
              {t("difference")}: <strong>{formatEuro(centsText(f.difference_cents ?? 0))}</strong> (
              {t("tolerance", { amount: formatEuro(centsText(f.tolerance_cents)) })})
            </Text>
            <Text size="sm" c="dimmed">
              {f.run_id !== null && t("runUsed", { id: f.run_id, kind: f.run_kind })}
              {f.gse_result_id && ` · ${t("gseRevision", { id: f.gse_result_id, revision: f.gse_revision, source: f.gse_source })}`}
            </Text>
            <CompareTable rows={Object.entries(f.totals)} label={field} />
            <Title order={4} size="h5">
              {t("causesTitle")}
            </Title>
            {f.causes.length === 0 ? (
              <Empty>{t("causesEmpty")}</Empty>
            ) : (
              <Table>
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th scope="col">{t("cause")}</Table.Th>
                    <Table.Th scope="col">{t("pod")}</Table.Th>
                    <Table.Th scope="col" className="num">{t("difference")}</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {f.causes.map((c, i) => (
                    <Table.Tr key={i}>
                      <Table.Td>{t(`causes.${c.cause}`, c.cause)}</Table.Td>
                      <Table.Td>{c.pod ?? "—"}</Table.Td>
                      <Table.Td className="num">{formatEuro(centsText(c.difference_cents))}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            )}
            {f.pods.length > 0 && (
              <>
                <Title order={4} size="h5">
                  {t("podsTitle")}
                </Title>
                <ScrollTable
                  label={t("podsTitle")}
                  minWidth={520}
                  columns={[t("pod"), t("gseStatus"), { label: t("difference"), numeric: true }, t("cause")]}
                >
                  {f.pods.map((pod) => (
                    <Table.Tr key={pod.pod}>
                      <Table.Td>{pod.pod}</Table.Td>
                      <Table.Td>{t(`gseStatuses.${pod.gse_status}`, pod.gse_status)}</Table.Td>
                      <Table.Td className="num">{formatEuro(centsText(pod.difference_cents))}</Table.Td>
                      <Table.Td>{pod.cause ? t(`causes.${pod.cause}`, pod.cause) : "—"}</Table.Td>
                    </Table.Tr>
                  ))}
                </ScrollTable>
              </>
            )}
          </>
        )}
      </Section>
      <Section title={t("paymentsTitle")}>
        <SimpleGrid cols={{ base: 1, xs: 2, md: 3 }}>
          <Stat label={t("expectedAdvance")} value={formatEuro(centsText(p.expected_advance_cents))} />
          <Stat label={t("gseAdvance")} value={formatEuro(centsText(p.gse_advance_cents))} />
          <Stat label={t("advancePaid")} value={formatEuro(centsText(p.advance_paid_cents))} />
          <Stat label={t("dueOn")} value={formatDate(p.advance_due_on)} />
          <Stat
            label={t("trueUp")}
            value={p.advance_vs_final.true_up_cents === null ? "—" : formatEuro(centsText(p.advance_vs_final.true_up_cents))}
          />
          <Stat label={t("receivable")} value={formatEuro(centsText(p.receivable_balance_cents))} />
        </SimpleGrid>
      </Section>
    </>
  );
}

function CompareTable({ rows, label }: { rows: [string, Compared][]; label: (name: string) => string }) {
  const { t } = useTranslation(undefined, { keyPrefix: "money.reconciliation" });
  return (
    <ScrollTable
      label={t("figuresTitle")}
      minWidth={520}
      columns={[
        t("field"),
        { label: t("platform"), numeric: true },
        { label: t("gse"), numeric: true },
        { label: t("difference"), numeric: true },
      ]}
    >
      {rows.map(([name, c]) => (
        <Table.Tr key={name}>
          <Table.Th scope="row" fw={500}>{label(name)}</Table.Th>
          <Table.Td className="num">{figure(name, c.platform)}</Table.Td>
          <Table.Td className="num">{figure(name, c.gse)}</Table.Td>
          <Table.Td className="num">{figure(name, c.difference)}</Table.Td>
        </Table.Tr>
      ))}
    </ScrollTable>
  );
}
