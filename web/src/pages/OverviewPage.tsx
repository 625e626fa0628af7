import { Badge, Stack, Table, Text, Title } from "@mantine/core";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import type { components } from "../api/generated/cer";
import { type LiveSnapshot, streamLive } from "../api/live";
import { session } from "../api/session";
import { ScrollTable } from "../components/ScrollTable";
import { Section } from "../components/Section";
import { Empty } from "../components/States";
import { Stat, Stats } from "../components/Stat";
import { formatDateTime, formatKw, formatKwh } from "../format";

type Community = components["schemas"]["CommunityOut"];

/** Today's shared energy as the energy service streams it; reconnects after a drop. */
function useLive(communityId: number): { snapshot: LiveSnapshot | null; connected: boolean } {
  const [snapshot, setSnapshot] = useState<LiveSnapshot | null>(null);
  const [connected, setConnected] = useState(false);
  useEffect(() => {
    const abort = new AbortController();
    let retry: ReturnType<typeof setTimeout> | undefined;
    const connect = async () => {
      const token = await session.accessToken();
      if (!token || abort.signal.aborted) return;
      setConnected(true);
      try {
        await streamLive(communityId, token, setSnapshot, abort.signal);
      } catch {
        // dropped or refused: try again shortly unless the page is gone
      }
      setConnected(false);
      if (!abort.signal.aborted) retry = setTimeout(() => void connect(), 5000);
    };
    void connect();
    return () => {
      abort.abort();
      if (retry) clearTimeout(retry);
    };
  }, [communityId]);
  return { snapshot, connected };
}

export function OverviewPage({ community }: { community: Community }) {
  const { t } = useTranslation();
  const { snapshot, connected } = useLive(community.id);
  const today = snapshot?.today;
  return (
    <Stack>
      <Title order={2}>{community.name}</Title>
      <Text c="dimmed">
        {community.code} · {t("overview.zone")} {community.market_zone}
      </Text>
      <Stats>
        <Stat label={t("overview.members")} value={String(community.members_count)} testId="members-count" />
        <Stat label={t("overview.plants")} value={String(community.plants_count)} />
        <Stat label={t("overview.power")} value={formatKw(community.total_power)} />
        <Stat label={t("overview.sharedToday")} value={today ? formatKwh(today.shared_kwh) : "—"} testId="shared-today" />
      </Stats>

      <Section
        title={t("overview.liveTitle")}
        layout="flush"
        actions={
          <Badge color={connected ? "teal.9" : "gray.7"} aria-live="polite">
            {connected ? t("overview.live") : t("overview.reconnecting")}
          </Badge>
        }
      >
        {today ? (
          <>
            <Text size="sm" c="dimmed">
              {t("overview.updatedAt", { at: formatDateTime(snapshot.at) })}
            </Text>
            <ScrollTable
              minWidth={480}
              columns={[
                t("overview.substation"),
                { label: t("energy.produced"), numeric: true },
                { label: t("energy.consumed"), numeric: true },
                { label: t("energy.shared"), numeric: true },
              ]}
            >
              {today.substations.map((s) => (
                <Table.Tr key={s.primary_substation}>
                  <Table.Td>{s.primary_substation}</Table.Td>
                  <Table.Td className="num">{formatKwh(s.produced_kwh)}</Table.Td>
                  <Table.Td className="num">{formatKwh(s.consumed_kwh)}</Table.Td>
                  <Table.Td className="num">{formatKwh(s.shared_kwh)}</Table.Td>
                </Table.Tr>
              ))}
              <Table.Tr fw={700}>
                <Table.Td>{t("common.total")}</Table.Td>
                <Table.Td className="num">{formatKwh(today.produced_kwh)}</Table.Td>
                <Table.Td className="num">{formatKwh(today.consumed_kwh)}</Table.Td>
                <Table.Td className="num">{formatKwh(today.shared_kwh)}</Table.Td>
              </Table.Tr>
            </ScrollTable>
          </>
        ) : (
          <Empty>{t("overview.waitingLive")}</Empty>
        )}
      </Section>

      <Section title={t("overview.bySubstation")} layout="flush">
        {community.power_by_substation.length ? (
          <ScrollTable
            minWidth={520}
            columns={[
              t("overview.substation"),
              { label: t("overview.plants"), numeric: true },
              { label: t("overview.producers"), numeric: true },
              { label: t("overview.consumers"), numeric: true },
              { label: t("overview.prosumers"), numeric: true },
              { label: t("overview.power"), numeric: true },
            ]}
          >
            {community.power_by_substation.map((s) => (
              <Table.Tr key={s.primary_substation}>
                <Table.Td>{s.primary_substation}</Table.Td>
                <Table.Td className="num">{s.plants_count}</Table.Td>
                <Table.Td className="num">{s.producers_count}</Table.Td>
                <Table.Td className="num">{s.consumers_count}</Table.Td>
                <Table.Td className="num">{s.prosumers_count}</Table.Td>
                <Table.Td className="num">{formatKw(s.total_power)}</Table.Td>
              </Table.Tr>
            ))}
          </ScrollTable>
        ) : (
          <Empty>{t("overview.noPlants")}</Empty>
        )}
      </Section>
    </Stack>
  );
}
