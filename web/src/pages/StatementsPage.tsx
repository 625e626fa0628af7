// A member's money, month by month: what they earned from the approved (FINAL)
// settlements and how each figure was made, and their monthly statements (the
// reporting service's PDF, made on request as a job, then downloaded).
import { Badge, Button, Group, NativeSelect, Paper, Stack, Table, Text, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { downloadFile, economicApi, reportingApi, unwrap } from "../api/client";
import type { components } from "../api/generated/economic";
import { useChosenCommunity } from "../components/CommunityChoice";
import { ScrollTable } from "../components/ScrollTable";
import { Section } from "../components/Section";
import { Stat, Stats } from "../components/Stat";
import { Empty, ErrorState, FormErrors, Loading, QueryView, fieldError } from "../components/States";
import { formatDateTime, formatEuro, formatKwh, formatMonth, italianToday } from "../format";

type Benefit = components["schemas"]["BenefitOut"];

/** The last twelve months before the current one, newest first (YYYY-MM). */
export function lastMonths(today: string, count = 12): string[] {
  let year = Number(today.slice(0, 4));
  let month = Number(today.slice(5, 7));
  const months: string[] = [];
  for (let i = 0; i < count; i++) {
    month -= 1;
    if (month === 0) {
      month = 12;
      year -= 1;
    }
    months.push(`${year}-${String(month).padStart(2, "0")}`);
  }
  return months;
}

export default function StatementsPage() {
  const { t } = useTranslation();
  const { communities, community } = useChosenCommunity();
  if (communities.isPending) return <Loading />;
  if (communities.isError) return <ErrorState error={communities.error} />;
  return (
    <Stack>
      <Title order={2}>{t("statements.title")}</Title>
      {!community ? (
        <Empty>{t("me.noCommunity")}</Empty>
      ) : (
        <>
          <Text c="dimmed">{community.name}</Text>
          <Earnings communityId={community.id} />
          <Statements communityId={community.id} />
        </>
      )}
    </Stack>
  );
}

function Earnings({ communityId }: { communityId: number }) {
  const { t, i18n } = useTranslation();
  const benefits = useQuery({
    queryKey: ["my-benefits"],
    queryFn: () => unwrap(economicApi.GET("/api/economic/members/me/")),
  });
  if (benefits.isPending) return <Loading />;
  if (benefits.isError) return <ErrorState error={benefits.error} />;
  // members/me answers for every community: this page shows the chosen one.
  const months = benefits.data.months.filter((m) => m.community_id === communityId);
  const earned = months.reduce((total, m) => total + Math.round(Number(m.eur) * 100), 0);
  return (
    <Section title={t("statements.earned")} layout="tight">
      <Stats>
        <Stat label={t("me.earnedTotal")} value={formatEuro((earned / 100).toFixed(2))} testId="statements-earned" />
        <Stat label={t("me.paid")} value={formatEuro(benefits.data.paid_eur)} />
        <Stat label={t("me.payable")} value={formatEuro(benefits.data.payable_eur)} />
      </Stats>
      {months.length === 0 ? (
        <Empty>{t("me.noBenefits")}</Empty>
      ) : (
        <Stack gap="sm" mt="md">
          {months.map((m) => (
            <MonthBreakdown key={`${m.period}-${m.run_id}`} benefit={m} language={i18n.language} />
          ))}
        </Stack>
      )}
    </Section>
  );
}

/** One month: the figures and, in words, how they were computed. */
function MonthBreakdown({ benefit: m, language }: { benefit: Benefit; language: string }) {
  const { t } = useTranslation();
  return (
    <Paper withBorder p="sm" radius="sm" data-testid="earning-month">
      <Group justify="space-between" wrap="wrap">
        <Title order={4} size="h5">
          {formatMonth(m.period, language)}
        </Title>
        <Text fw={700}>{formatEuro(m.eur)}</Text>
      </Group>
      <Table mt="xs" withRowBorders={false}>
        <Table.Caption>{t("statements.howCaption", { run: m.run_id })}</Table.Caption>
        <Table.Tbody>
          <Table.Tr>
            <Table.Th scope="row">{t("statements.asProducer")}</Table.Th>
            <Table.Td>{t("statements.producerHow", { kwh: formatKwh(m.producer_shared_kwh) })}</Table.Td>
            <Table.Td className="num">{formatEuro(m.as_producer_eur)}</Table.Td>
          </Table.Tr>
          <Table.Tr>
            <Table.Th scope="row">{t("statements.asConsumer")}</Table.Th>
            <Table.Td>{t("statements.consumerHow", { kwh: formatKwh(m.contribution_kwh) })}</Table.Td>
            <Table.Td className="num">{formatEuro(m.as_consumer_eur)}</Table.Td>
          </Table.Tr>
          <Table.Tr>
            <Table.Th scope="row">{t("common.total")}</Table.Th>
            <Table.Td />
            <Table.Td className="num">{formatEuro(m.eur)}</Table.Td>
          </Table.Tr>
        </Table.Tbody>
      </Table>
    </Paper>
  );
}

function Statements({ communityId }: { communityId: number }) {
  const { t, i18n } = useTranslation();
  const queries = useQueryClient();
  const months = lastMonths(italianToday());
  const [period, setPeriod] = useState(months[0]!);
  const jobs = useQuery({
    queryKey: ["my-statements", communityId],
    queryFn: () => unwrap(reportingApi.GET("/api/reports/", { params: { query: { community_id: communityId, per_page: 50 } } })),
    // A statement is made by a job: poll while one is on its way.
    refetchInterval: (query) =>
      (query.state.data ?? []).some((j) => j.status === "QUEUED" || j.status === "RUNNING") ? 1500 : false,
  });
  const request = useMutation({
    mutationFn: () =>
      unwrap(
        reportingApi.POST("/api/reports/", {
          body: { kind: "MEMBER_STATEMENT", community_id: communityId, period, format: "PDF", language: i18n.language.startsWith("en") ? "en" : "it" },
        }),
      ),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ["my-statements", communityId] }),
  });
  const download = useMutation({
    mutationFn: ({ id, name }: { id: number; name: string }) => downloadFile(`/api/reports/${id}/file`, name),
  });
  const statements = (jobs.data ?? []).filter((j) => j.kind === "MEMBER_STATEMENT");
  return (
    <Section title={t("statements.statements")} layout="tight">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          request.mutate();
        }}
      >
        <FormErrors error={request.error} fields={["period"]} />
        <Group align="end" wrap="wrap">
          <NativeSelect
            label={t("statements.month")}
            value={period}
            onChange={(e) => setPeriod(e.currentTarget.value)}
            data={months.map((m) => ({ value: m, label: formatMonth(m, i18n.language) }))}
            error={fieldError(request.error, "period")}
          />
          <Button type="submit" loading={request.isPending}>
            {t("statements.request")}
          </Button>
        </Group>
      </form>
      <FormErrors error={download.error} fields={[]} />
      <QueryView query={jobs} isEmpty={() => statements.length === 0} empty={t("statements.none")}>
        {() => (
          <ScrollTable
            minWidth={480}
            mt="md"
            columns={[t("statements.month"), t("statements.requested"), t("members.state"), t("common.actions")]}
          >
            {statements.map((j) => (
              <Table.Tr key={j.id} data-testid="statement-row">
                <Table.Td>{formatMonth(j.period, i18n.language)}</Table.Td>
                <Table.Td>{formatDateTime(j.created_at)}</Table.Td>
                <Table.Td>
                  <Badge color={j.status === "DONE" ? "teal.9" : j.status === "FAILED" ? "red.9" : "gray.7"}>
                    {t(`statements.statuses.${j.status}`, j.status)}
                  </Badge>
                  {j.status === "FAILED" && (
                    // The job's error is the services' (a token, a figure): a
                    // member is told what to do; the details stay in the API.
                    <Text size="xs" c="red.9" title={j.error ?? undefined}>
                      {t("statements.failedHint")}
                    </Text>
                  )}
                </Table.Td>
                <Table.Td>
                  {j.status === "DONE" && (
                    <Button
                      size="xs"
                      variant="default"
                      aria-label={t("statements.downloadOf", { month: formatMonth(j.period, i18n.language) })}
                      onClick={() => download.mutate({ id: j.id, name: j.filename ?? `statement-${j.period}.pdf` })}
                    >
                      {t("statements.download")}
                    </Button>
                  )}
                </Table.Td>
              </Table.Tr>
            ))}
          </ScrollTable>
        )}
      </QueryView>
    </Section>
  );
}
