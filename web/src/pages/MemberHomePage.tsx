import { Stack, Table, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { Suspense, lazy } from "react";
import { useTranslation } from "react-i18next";
import { economicApi, energyApi, unwrap } from "../api/client";
import { useMe } from "../api/hooks";
import { useChosenCommunity } from "../components/CommunityChoice";
import { ScrollTable } from "../components/ScrollTable";
import { Section } from "../components/Section";
import { Stat, Stats } from "../components/Stat";
import { Empty, ErrorState, Loading, QueryView } from "../components/States";
import { formatEuro, formatKwh, formatMonth, italianToday, monthBounds, nextDay, romeMidnight } from "../format";

const EnergyChart = lazy(() => import("../components/EnergyChart").then((m) => ({ default: m.EnergyChart })));

function sum<T>(rows: T[] | undefined, pick: (row: T) => number | null | undefined): number {
  return (rows ?? []).reduce((total, row) => total + (pick(row) ?? 0), 0);
}

export default function MemberHomePage() {
  const { t, i18n } = useTranslation();
  const me = useMe();
  // The community chosen in the URL (?cer=), else the person's first.
  const { communities, community } = useChosenCommunity();
  const today = italianToday();
  const [monthStart, monthEnd] = monthBounds(today.slice(0, 7));
  const enabled = Boolean(me.data && community);

  const todayRows = useQuery({
    queryKey: ["my-energy", "today", community?.id, today],
    enabled,
    queryFn: () =>
      unwrap(
        energyApi.GET("/api/energy/aggregations/", {
          params: {
            query: {
              by: "member",
              member_id: me.data!.id,
              community_id: community!.id,
              resolution: "hour",
              start: romeMidnight(today),
              end: romeMidnight(nextDay(today)),
            },
          },
        }),
      ),
  });
  const monthRows = useQuery({
    queryKey: ["my-energy", "month", community?.id, monthStart],
    enabled,
    queryFn: () =>
      unwrap(
        energyApi.GET("/api/energy/aggregations/", {
          params: {
            query: { by: "member", member_id: me.data!.id, community_id: community!.id, resolution: "day", start: monthStart, end: monthEnd },
          },
        }),
      ),
  });
  const benefits = useQuery({
    queryKey: ["my-benefits"],
    queryFn: () => unwrap(economicApi.GET("/api/economic/members/me/")),
  });

  if (me.isPending || communities.isPending) return <Loading />;
  if (communities.isError) return <ErrorState error={communities.error} />;

  return (
    <Stack>
      <Title order={2}>{t("me.title", { name: me.data?.first_name ?? "" })}</Title>
      {!community ? (
        <Empty>{t("me.noCommunity")}</Empty>
      ) : (
        <>
          <Text c="dimmed">{community.name}</Text>
          <Section title={t("me.today")} layout="tight">
            <QueryView query={todayRows}>
              {(rows) => (
                <Stats>
                  <Stat label={t("energy.produced")} value={formatKwh(sum(rows, (r) => r.produced_kwh))} />
                  <Stat label={t("energy.consumed")} value={formatKwh(sum(rows, (r) => r.consumed_kwh))} />
                  <Stat label={t("energy.fromGrid")} value={formatKwh(sum(rows, (r) => r.withdrawn_kwh))} />
                  <Stat label={t("energy.selfConsumed")} value={formatKwh(sum(rows, (r) => r.self_consumption_kwh))} />
                </Stats>
              )}
            </QueryView>
          </Section>
          <Section title={t("me.thisMonth")} layout="tight">
            <QueryView query={monthRows}>
              {(rows) => (
                <>
                  <Stats>
                    <Stat label={t("energy.produced")} value={formatKwh(sum(rows, (r) => r.produced_kwh))} testId="my-month-produced" />
                    <Stat label={t("energy.consumed")} value={formatKwh(sum(rows, (r) => r.consumed_kwh))} />
                    <Stat label={t("energy.fromGrid")} value={formatKwh(sum(rows, (r) => r.withdrawn_kwh))} />
                    <Stat label={t("energy.fedIn")} value={formatKwh(sum(rows, (r) => r.fed_in_kwh))} />
                  </Stats>
                  {rows.length > 0 && (
                    <Suspense fallback={<Loading />}>
                      <EnergyChart
                        title={t("me.monthChart")}
                        labels={rows.map((r) => r.start.slice(8, 10))}
                        series={[
                          { name: t("energy.produced"), values: rows.map((r) => r.produced_kwh) },
                          { name: t("energy.consumed"), values: rows.map((r) => r.consumed_kwh) },
                        ]}
                      />
                    </Suspense>
                  )}
                </>
              )}
            </QueryView>
          </Section>
        </>
      )}
      <Section title={t("me.earned")} layout="tight">
        <QueryView query={benefits}>
          {(mine) => (
            <Stack>
              <Stats>
                <Stat label={t("me.earnedTotal")} value={formatEuro(mine.earned_eur)} testId="my-earned" />
                <Stat label={t("me.paid")} value={formatEuro(mine.paid_eur)} />
                <Stat label={t("me.payable")} value={formatEuro(mine.payable_eur)} />
              </Stats>
              {mine.months.length === 0 ? (
                <Empty>{t("me.noBenefits")}</Empty>
              ) : (
                <ScrollTable
                  minWidth={520}
                  caption={t("me.howComputed")}
                  columns={[
                    t("energy.month"),
                    { label: t("me.sharedContribution"), numeric: true },
                    { label: t("settlements.asProducer"), numeric: true },
                    { label: t("settlements.asConsumer"), numeric: true },
                    { label: t("settlements.memberTotal"), numeric: true },
                  ]}
                >
                  {mine.months.map((m) => (
                    <Table.Tr key={`${m.community_id}-${m.period}-${m.run_id}`}>
                      <Table.Td>{formatMonth(m.period, i18n.language)}</Table.Td>
                      <Table.Td className="num">{formatKwh(m.contribution_kwh)}</Table.Td>
                      <Table.Td className="num">{formatEuro(m.as_producer_eur)}</Table.Td>
                      <Table.Td className="num">{formatEuro(m.as_consumer_eur)}</Table.Td>
                      <Table.Td className="num">{formatEuro(m.eur)}</Table.Td>
                    </Table.Tr>
                  ))}
                </ScrollTable>
              )}
            </Stack>
          )}
        </QueryView>
      </Section>
    </Stack>
  );
}
