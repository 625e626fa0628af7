import { Badge, Button, Group, Paper, Stack, Switch, Table, Text, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { notificationApi, unwrap } from "../api/client";
import type { components } from "../api/generated/notification";
import { ScrollTable } from "../components/ScrollTable";
import { Section } from "../components/Section";
import { ErrorState, FormErrors, Loading, QueryView } from "../components/States";
import { formatDateTime } from "../format";

type Preference = components["schemas"]["PreferenceOut"];

/** The in-app inbox: each notice by its kind, with its facts, and the person's preferences. */
export default function NotificationsPage() {
  const { t } = useTranslation();
  const queries = useQueryClient();
  const inbox = useQuery({
    queryKey: ["notifications", "list"],
    queryFn: () => unwrap(notificationApi.GET("/api/notifications/", { params: { query: { per_page: 50 } } })),
  });
  const read = useMutation({
    mutationFn: (id: number) =>
      unwrap(notificationApi.POST("/api/notifications/{notification_id}/read/", { params: { path: { notification_id: id } } })),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ["notifications"] }),
  });
  return (
    <Stack>
      <Title order={2}>{t("notifications.title")}</Title>
      <FormErrors error={read.error} fields={[]} />
      <QueryView query={inbox} empty={t("notifications.empty")}>
        {(notices) => (
          <Stack gap="xs">
            {notices.map((n) => (
              <Paper key={n.id} withBorder p="sm" radius="md" data-testid="notification">
                <Group justify="space-between" wrap="wrap" align="start">
                  <div>
                    <Group gap="xs">
                      {!n.read_at && <Badge color="teal.9">{t("notifications.new")}</Badge>}
                      <Text fw={600}>{t(`notifications.kinds.${n.kind}`, n.kind)}</Text>
                    </Group>
                    <Text size="sm" c="dimmed">
                      {formatDateTime(n.created_at)}
                    </Text>
                    <Text size="sm">
                      {Object.entries(n.params)
                        // Ids are for the machines; the names and dates are for people.
                        .filter(([k, v]) => v !== null && typeof v !== "object" && !k.endsWith("_id"))
                        .map(([k, v]) => `${k}: ${String(v)}`)
                        .join(" · ")}
                    </Text>
                  </div>
                  {!n.read_at && (
                    <Button size="xs" variant="default" onClick={() => read.mutate(n.id)} loading={read.isPending && read.variables === n.id}>
                      {t("notifications.markRead")}
                    </Button>
                  )}
                </Group>
              </Paper>
            ))}
          </Stack>
        )}
      </QueryView>
      <Preferences />
    </Stack>
  );
}

function Preferences() {
  const { t } = useTranslation();
  const queries = useQueryClient();
  const preferences = useQuery({
    queryKey: ["notifications", "preferences"],
    queryFn: () => unwrap(notificationApi.GET("/api/notifications/preferences/")),
  });
  const save = useMutation({
    mutationFn: (p: Preference) =>
      unwrap(
        notificationApi.PUT("/api/notifications/preferences/", {
          body: { preferences: [{ kind: p.kind, channel: p.channel as "email" | "inbox", enabled: !p.enabled }] },
        }),
      ),
    onSettled: () => void queries.invalidateQueries({ queryKey: ["notifications", "preferences"] }),
  });
  if (preferences.isPending) return <Loading />;
  if (preferences.isError) return <ErrorState error={preferences.error} />;
  const kinds = [...new Set(preferences.data.map((p) => p.kind))];
  const find = (kind: string, channel: string) => preferences.data.find((p) => p.kind === kind && p.channel === channel);
  return (
    <Section title={t("notifications.preferences")} layout="tight">
      <FormErrors error={save.error} fields={[]} />
      <ScrollTable
        minWidth={420}
        striped={false}
        columns={[t("notifications.kind"), t("notifications.email"), t("notifications.inbox")]}
      >
        {kinds.map((kind) => (
          <Table.Tr key={kind}>
            <Table.Td>{t(`notifications.kinds.${kind}`, kind)}</Table.Td>
            {(["email", "inbox"] as const).map((channel) => {
              const p = find(kind, channel);
              return (
                <Table.Td key={channel}>
                  {p && (
                    <Switch
                      checked={p.enabled}
                      disabled={p.locked || save.isPending}
                      onChange={() => save.mutate(p)}
                      aria-label={`${t(`notifications.kinds.${kind}`, kind)}: ${t(`notifications.${channel}`)}`}
                    />
                  )}
                </Table.Td>
              );
            })}
          </Table.Tr>
        ))}
      </ScrollTable>
    </Section>
  );
}
