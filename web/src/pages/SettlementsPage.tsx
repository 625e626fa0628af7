import { Alert, Badge, Button, Group, Modal, Paper, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { cerApi, economicApi, unwrap } from "../api/client";
import type { components } from "../api/generated/economic";
import { ScrollTable } from "../components/ScrollTable";
import { Section } from "../components/Section";
import { FormErrors, QueryView, fieldError } from "../components/States";
import { formatDateTime, formatEuro, formatMonth, italianToday } from "../format";

type Run = components["schemas"]["RunOut"];

/** cents (integer) -> "12.34" for formatEuro, without floats. */
export function centsToDecimal(cents: number): string {
  const sign = cents < 0 ? "-" : "";
  const abs = Math.abs(cents);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")}`;
}

function previousMonth(): string {
  const [y, m] = italianToday().slice(0, 7).split("-").map(Number) as [number, number];
  return m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, "0")}`;
}

/** A run's error as a sentence: its message (and code), not its JSON. */
function errorText(error: unknown): string {
  if (typeof error === "string") return error;
  if (error && typeof error === "object" && "message" in error) {
    const { message, code } = error as { message: unknown; code?: unknown };
    return code ? `${String(message)} (${String(code)})` : String(message);
  }
  return JSON.stringify(error);
}

const STATUS_COLOR: Record<string, string> = { COMPLETED: "teal.9", FAILED: "red.9", QUEUED: "gray.7", RUNNING: "blue.9" };

export default function SettlementsPage({ communityId }: { communityId: number }) {
  const { t, i18n } = useTranslation();
  const [period, setPeriod] = useState(previousMonth());
  const [open, setOpen] = useState<number | null>(null);
  const queries = useQueryClient();

  const runs = useQuery({
    queryKey: ["settlements", communityId],
    queryFn: () => unwrap(economicApi.GET("/api/economic/settlements/", { params: { query: { community_id: communityId } } })),
    // Runs are jobs: poll while one is still working.
    refetchInterval: (query) =>
      (query.state.data ?? []).some((r) => r.status === "QUEUED" || r.status === "RUNNING") ? 1000 : false,
  });

  const create = useMutation({
    mutationFn: (kind: "ESTIMATE" | "PROVISIONAL") =>
      unwrap(economicApi.POST("/api/economic/settlements/", { body: { community_id: communityId, kind, period } })),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ["settlements", communityId] }),
  });

  const byMonth = new Map<string, Run[]>();
  for (const run of runs.data ?? []) byMonth.set(run.period, [...(byMonth.get(run.period) ?? []), run]);

  return (
    <Stack>
      <Title order={2}>{t("settlements.title")}</Title>
      <Paper withBorder p="md" radius="md" component="section" aria-label={t("settlements.new")}>
        <form onSubmit={(e) => e.preventDefault()}>
          <Stack>
            <FormErrors error={create.error} fields={["period", "kind"]} />
            <Group align="end">
              <TextInput
                type="month"
                label={t("settlements.period")}
                value={period}
                onChange={(e) => setPeriod(e.currentTarget.value)}
                error={fieldError(create.error, "period")}
              />
              <Button onClick={() => create.mutate("ESTIMATE")} loading={create.isPending && create.variables === "ESTIMATE"}>
                {t("settlements.estimate")}
              </Button>
              <Button
                variant="outline"
                onClick={() => create.mutate("PROVISIONAL")}
                loading={create.isPending && create.variables === "PROVISIONAL"}
              >
                {t("settlements.provisional")}
              </Button>
            </Group>
            <Text size="sm" c="dimmed">
              {t("settlements.kindsHint")}
            </Text>
          </Stack>
        </form>
      </Paper>

      <QueryView query={runs} isEmpty={() => byMonth.size === 0} empty={t("settlements.empty")}>
        {() =>
          [...byMonth.entries()]
            .sort(([a], [b]) => b.localeCompare(a))
            .map(([month, list]) => (
              <Section key={month} title={formatMonth(month, i18n.language)} layout="flush">
                <ScrollTable
                  minWidth={560}
                  columns={[
                    t("settlements.run"),
                    t("settlements.kind"),
                    t("settlements.status"),
                    { label: t("settlements.total"), numeric: true },
                    { label: t("settlements.difference"), numeric: true },
                    t("settlements.created"),
                    { label: t("common.actions"), hidden: true },
                  ]}
                >
                  {list.map((run) => (
                    <Table.Tr key={run.id} data-testid={`run-${run.id}`}>
                      <Table.Td>#{run.id}</Table.Td>
                      <Table.Td>{t(`settlements.kinds.${run.kind}`, run.kind)}</Table.Td>
                      <Table.Td>
                        <Badge color={STATUS_COLOR[run.status] ?? "gray.7"}>
                          {t(`settlements.statuses.${run.status}`, run.status)}
                        </Badge>
                      </Table.Td>
                      <Table.Td className="num">{formatEuro(run.total_eur)}</Table.Td>
                      <Table.Td className="num">
                        {run.difference ? formatEuro(centsToDecimal(Number(run.difference.total_cents ?? 0))) : "—"}
                      </Table.Td>
                      <Table.Td>{formatDateTime(run.created_at)}</Table.Td>
                      <Table.Td>
                        <Button size="xs" variant="subtle" onClick={() => setOpen(run.id)} aria-label={t("settlements.openRun", { id: run.id })}>
                          {t("common.details")}
                        </Button>
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </ScrollTable>
              </Section>
            ))
        }
      </QueryView>
      {open !== null && <RunDetail runId={open} communityId={communityId} onClose={() => setOpen(null)} />}
    </Stack>
  );
}

function RunDetail({ runId, communityId, onClose }: { runId: number; communityId: number; onClose: () => void }) {
  const { t } = useTranslation();
  const queries = useQueryClient();
  const run = useQuery({
    queryKey: ["settlement", runId],
    queryFn: () => unwrap(economicApi.GET("/api/economic/settlements/{run_id}/", { params: { path: { run_id: runId } } })),
  });
  const members = useQuery({
    queryKey: ["members", communityId],
    queryFn: () =>
      unwrap(cerApi.GET("/api/cer/{cer_id}/members/", { params: { path: { cer_id: communityId }, query: { per_page: 100 } } })),
  });
  const approve = useMutation({
    mutationFn: () => unwrap(economicApi.POST("/api/economic/settlements/{run_id}/approve/", { params: { path: { run_id: runId } } })),
    onSuccess: () => {
      void queries.invalidateQueries({ queryKey: ["settlements", communityId] });
      onClose();
    },
  });
  const name = (userId: number) => {
    const m = members.data?.find((x) => x.user_id === userId);
    return m ? [m.first_name, m.last_name].filter(Boolean).join(" ") || m.username || `#${userId}` : `#${userId}`;
  };
  const differences = (run.data?.difference?.members_cents ?? {}) as Record<string, number>;
  return (
    <Modal opened closeButtonProps={{ "aria-label": t("common.close") }} onClose={onClose} title={t("settlements.runTitle", { id: runId })} size="xl">
      <QueryView query={run}>
        {(data) => (
          <Stack>
            <Text>
              {t(`settlements.kinds.${data.kind}`, data.kind)} · {t(`settlements.statuses.${data.status}`, data.status)} ·{" "}
              {t("settlements.total")} {formatEuro(data.total_eur)} · {t("settlements.community")} {formatEuro(data.community_eur)}
            </Text>
            {data.errors?.length ? (
              <Alert color="red" role="alert">
                {data.errors.map(errorText).join(" · ")}
              </Alert>
            ) : null}
            {(data.members ?? []).length > 0 && (
              <ScrollTable
                minWidth={520}
                columns={[
                  t("settlements.member"),
                  { label: t("settlements.asProducer"), numeric: true },
                  { label: t("settlements.asConsumer"), numeric: true },
                  { label: t("settlements.memberTotal"), numeric: true },
                  data.difference ? { label: t("settlements.difference"), numeric: true } : null,
                ]}
              >
                {(data.members ?? []).map((m) => (
                  <Table.Tr key={m.user_id}>
                    <Table.Td>{name(m.user_id)}</Table.Td>
                    <Table.Td className="num">{formatEuro(m.as_producer_eur)}</Table.Td>
                    <Table.Td className="num">{formatEuro(m.as_consumer_eur)}</Table.Td>
                    <Table.Td className="num">{formatEuro(m.eur)}</Table.Td>
                    {data.difference && <Table.Td className="num">{formatEuro(centsToDecimal(differences[String(m.user_id)] ?? 0))}</Table.Td>}
                  </Table.Tr>
                ))}
              </ScrollTable>
            )}
            <FormErrors error={approve.error} fields={[]} />
            {data.kind === "PROVISIONAL" && data.status === "COMPLETED" && (
              <Group justify="end">
                <Button onClick={() => approve.mutate()} loading={approve.isPending}>
                  {t("settlements.approve")}
                </Button>
              </Group>
            )}
          </Stack>
        )}
      </QueryView>
    </Modal>
  );
}
