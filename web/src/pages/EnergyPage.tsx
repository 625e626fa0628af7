import { Group, NativeSelect, Paper, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { energyApi, unwrap } from "../api/client";
import { EnergyChart } from "../components/EnergyChart";
import { ScrollTable } from "../components/ScrollTable";
import { Stat, Stats } from "../components/Stat";
import { QueryView } from "../components/States";
import { formatDate, formatDateTime, formatKwh, formatMonth, italianToday, monthBounds, romeMidnight } from "../format";

type Resolution = "day" | "month" | "hour";

function yearBounds(year: string): [string, string] {
  return [romeMidnight(`${year}-01-01`), romeMidnight(`${Number(year) + 1}-01-01`)];
}

/** A year two months at a time: the API serves hourly figures for at most 92
 * days a call, and October to December is 92 days and an hour (summer time ends). */
/** "05/12/2026, 13:00" -> "05/12 13:00". */
function hourLabel(dateTime: string): string {
  return `${dateTime.slice(0, 5)} ${dateTime.slice(12)}`;
}

export function yearRanges(year: string): [string, string][] {
  const starts = ["01", "03", "05", "07", "09", "11"].map((m) => romeMidnight(`${year}-${m}-01`));
  return starts.map((start, i) => [start, starts[i + 1] ?? romeMidnight(`${Number(year) + 1}-01-01`)]);
}

export default function EnergyPage({ communityId }: { communityId: number }) {
  const { t, i18n } = useTranslation();
  const [resolution, setResolution] = useState<Resolution>("day");
  const [month, setMonth] = useState(italianToday().slice(0, 7));
  const [year, setYear] = useState(italianToday().slice(0, 4));
  const [start, end] = resolution === "day" ? monthBounds(month) : yearBounds(year);
  const ranges: [string, string][] = resolution === "hour" ? yearRanges(year) : [[start, end]];

  const rows = useQuery({
    queryKey: ["aggregations", communityId, resolution, start, end],
    queryFn: async () =>
      (
        await Promise.all(
          ranges.map(([from, to]) =>
            unwrap(
              energyApi.GET("/api/energy/aggregations/", {
                params: { query: { by: "community", community_id: communityId, resolution, start: from, end: to } },
              }),
            ),
          )
        )
      ).flat(),
  });

  const chart = useMemo(() => {
    const data = rows.data ?? [];
    const label = (s: string) =>
      resolution === "day"
        ? formatDate(s).slice(0, 5)
        : resolution === "hour"
          ? hourLabel(formatDateTime(s))
          : formatMonth(s.slice(0, 7), i18n.language);
    return {
      labels: data.map((r) => label(r.start)),
      series: [
        { name: t("energy.produced"), values: data.map((r) => r.produced_kwh) },
        { name: t("energy.consumed"), values: data.map((r) => r.consumed_kwh) },
        { name: t("energy.shared"), values: data.map((r) => r.shared_kwh ?? 0), kind: "line" as const },
      ],
    };
  }, [rows.data, resolution, t, i18n.language]);

  const totals = (rows.data ?? []).reduce(
    (sum, r) => ({
      produced: sum.produced + r.produced_kwh,
      consumed: sum.consumed + r.consumed_kwh,
      shared: sum.shared + (r.shared_kwh ?? 0),
    }),
    { produced: 0, consumed: 0, shared: 0 },
  );

  return (
    <Stack>
      <Title order={2}>{t("energy.title")}</Title>
      <Group align="end">
        <NativeSelect
          label={t("energy.resolution")}
          value={resolution}
          onChange={(e) => setResolution(e.currentTarget.value as Resolution)}
          data={[
            { value: "day", label: t("energy.byDay") },
            { value: "month", label: t("energy.byMonth") },
            { value: "hour", label: t("energy.byHour") },
          ]}
        />
        {resolution === "day" ? (
          <TextInput type="month" label={t("energy.month")} value={month} onChange={(e) => e.currentTarget.value && setMonth(e.currentTarget.value)} />
        ) : (
          <TextInput
            type="number"
            label={t("energy.year")}
            value={year}
            min={2020}
            max={2100}
            onChange={(e) => /^\d{4}$/.test(e.currentTarget.value) && setYear(e.currentTarget.value)}
          />
        )}
      </Group>
      <QueryView query={rows} empty={t("energy.empty")}>
        {(data) => (
          <>
            <Stats>
              <Stat label={t("energy.produced")} value={formatKwh(totals.produced)} />
              <Stat label={t("energy.consumed")} value={formatKwh(totals.consumed)} />
              <Stat label={t("energy.shared")} value={formatKwh(totals.shared)} testId="energy-shared-total" />
            </Stats>
            <Paper withBorder p="md" radius="md" data-testid="energy-chart" data-points={data.length}>
              <EnergyChart title={t("energy.chartTitle")} labels={chart.labels} series={chart.series} />
            </Paper>
            {resolution === "hour" ? (
              <Text size="sm" c="dimmed">
                {t("energy.hourlyHint")}
              </Text>
            ) : (
              <ScrollTable
                minWidth={640}
                caption={t("energy.coverageHint")}
                columns={[
                  resolution === "day" ? t("energy.day") : t("energy.month"),
                  { label: t("energy.produced"), numeric: true },
                  { label: t("energy.consumed"), numeric: true },
                  { label: t("energy.fedIn"), numeric: true },
                  { label: t("energy.withdrawn"), numeric: true },
                  { label: t("energy.shared"), numeric: true },
                  t("energy.coverage"),
                ]}
              >
                {data.map((r) => (
                  <Table.Tr key={r.start}>
                    <Table.Td>{resolution === "day" ? formatDate(r.start) : formatMonth(r.start.slice(0, 7), i18n.language)}</Table.Td>
                    <Table.Td className="num">{formatKwh(r.produced_kwh)}</Table.Td>
                    <Table.Td className="num">{formatKwh(r.consumed_kwh)}</Table.Td>
                    <Table.Td className="num">{formatKwh(r.fed_in_kwh)}</Table.Td>
                    <Table.Td className="num">{formatKwh(r.withdrawn_kwh)}</Table.Td>
                    <Table.Td className="num">{formatKwh(r.shared_kwh)}</Table.Td>
                    <Table.Td>
                      {Object.entries(r.coverage)
                        .map(([source, count]) => `${source} ${count}`)
                        .join(", ") || "—"}
                    </Table.Td>
                  </Table.Tr>
                ))}
              </ScrollTable>
            )}
          </>
        )}
      </QueryView>
    </Stack>
  );
}
