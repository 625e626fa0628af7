import { Paper, Stack, Table, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { Suspense, lazy } from "react";
import { useTranslation } from "react-i18next";
import { economicApi, energyApi, unwrap } from "../api/client";
import { useMe } from "../api/hooks";
import { useChosenCommunity } from "../components/CommunityChoice";
import { Empty, ErrorState, Loading } from "../components/States";
import { Stat, Stats } from "../components/Stat";
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
          <Paper withBorder p="md" radius="md" component="section" aria-labelledby="today-title">
            <Title order={3} size="h4" id="today-title" mb="sm">
              {t("me.today")}
            </Title>
            {todayRows.isPending ? (
              <Loading />
            ) : todayRows.isError ? (
              <ErrorState error={todayRows.error} />
            ) : (
              <Stats>
                <Stat label={t("energy.produced")} value={formatKwh(sum(todayRows.data, (r) => r.produced_kwh))} />
                <Stat label={t("energy.consumed")} value={formatKwh(sum(todayRows.data, (r) => r.consumed_kwh))} />
                <Stat label={t("energy.fromGrid")} value={formatKwh(sum(todayRows.data, (r) => r.withdrawn_kwh))} />
                <Stat label={t("energy.selfConsumed")} value={formatKwh(sum(todayRows.data, (r) => r.self_consumption_kwh))} />
              </Stats>
            )}
          </Paper>
          <Paper withBorder p="md" radius="md" component="section" aria-labelledby="month-title">
            <Title order={3} size="h4" id="month-title" mb="sm">
              {t("me.thisMonth")}
            </Title>
            {monthRows.isPending ? (
              <Loading />
            ) : monthRows.isError ? (
              <ErrorState error={monthRows.error} />
            ) : (
              <>
                <Stats>
                  <Stat label={t("energy.produced")} value={formatKwh(sum(monthRows.data, (r) => r.produced_kwh))} testId="my-month-produced" />
                  <Stat label={t("energy.consumed")} value={formatKwh(sum(monthRows.data, (r) => r.consumed_kwh))} />
                  <Stat label={t("energy.fromGrid")} value={formatKwh(sum(monthRows.data, (r) => r.withdrawn_kwh))} />
                  <Stat label={t("energy.fedIn")} value={formatKwh(sum(monthRows.data, (r) => r.fed_in_kwh))} />
                </Stats>
                {monthRows.data.length > 0 && (
                  <Suspense fallback={<Loading />}>
                    <EnergyChart
                      title={t("me.monthChart")}
                      labels={monthRows.data.map((r) => r.start.slice(8, 10))}
                      series={[
                        { name: t("energy.produced"), values: monthRows.data.map((r) => r.produced_kwh) },
                        { name: t("energy.consumed"), values: monthRows.data.map((r) => r.consumed_kwh) },
                      ]}
                    />
                  </Suspense>
                )}
              </>
            )}
          </Paper>
        </>
      )}
      <Paper withBorder p="md" radius="md" component="section" aria-labelledby="earned-title">
        <Title order={3} size="h4" id="earned-title" mb="sm">
          {t("me.earned")}
        </Title>
        {benefits.isPending ? (
          <Loading />
        ) : benefits.isError ? (
          <ErrorState error={benefits.error} />
        ) : (
          <Stack>
            <Stats>
              <Stat label={t("me.earnedTotal")} value={formatEuro(benefits.data.earned_eur)} testId="my-earned" />
              <Stat label={t("me.paid")} value={formatEuro(benefits.data.paid_eur)} />
              <Stat label={t("me.payable")} value={formatEuro(benefits.data.payable_eur)} />
            </Stats>
            {benefits.data.months.length === 0 ? (
              <Empty>{t("me.noBenefits")}</Empty>
            ) : (
              <Table.ScrollContainer minWidth={520} type="native" tabIndex={0}>
                <Table striped>
                  <Table.Caption>{t("me.howComputed")}</Table.Caption>
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th scope="col">{t("energy.month")}</Table.Th>
                      <Table.Th scope="col" className="num">{t("me.sharedContribution")}</Table.Th>
                      <Table.Th scope="col" className="num">{t("settlements.asProducer")}</Table.Th>
                      <Table.Th scope="col" className="num">{t("settlements.asConsumer")}</Table.Th>
                      <Table.Th scope="col" className="num">{t("settlements.memberTotal")}</Table.Th>
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {benefits.data.months.map((m) => (
                      <Table.Tr key={`${m.community_id}-${m.period}-${m.run_id}`}>
                        <Table.Td>{formatMonth(m.period, i18n.language)}</Table.Td>
                        <Table.Td className="num">{formatKwh(m.contribution_kwh)}</Table.Td>
                        <Table.Td className="num">{formatEuro(m.as_producer_eur)}</Table.Td>
                        <Table.Td className="num">{formatEuro(m.as_consumer_eur)}</Table.Td>
                        <Table.Td className="num">{formatEuro(m.eur)}</Table.Td>
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              </Table.ScrollContainer>
            )}
          </Stack>
        )}
      </Paper>
    </Stack>
  );
}
