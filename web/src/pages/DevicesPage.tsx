import { Alert, Badge, Button, Code, Group, Modal, NativeSelect, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { cerApi, iotApi, unwrap } from "../api/client";
import type { components } from "../api/generated/iot";
import { ScrollTable } from "../components/ScrollTable";
import { Section } from "../components/Section";
import { FormErrors, Loading, QueryView, fieldError } from "../components/States";
import { formatDateTime } from "../format";

type Device = components["schemas"]["DeviceOut"];
type Credentials = components["schemas"]["MqttCredentials"];

const STATUS_ORDER: Record<string, number> = { OFFLINE: 0, ERROR: 1, ONLINE: 2 };
const STATUS_COLOR: Record<string, string> = { OFFLINE: "red.9", ERROR: "orange.9", ONLINE: "teal.9" };

/** Offline devices first, then those in error, then the rest, revoked ones last; by id within each. */
export function offlineFirst<T extends { status: string; device_id: string; revoked?: boolean }>(devices: T[]): T[] {
  const rank = (d: T) => (d.revoked ? 10 : (STATUS_ORDER[d.status] ?? 9));
  return [...devices].sort((a, b) => rank(a) - rank(b) || a.device_id.localeCompare(b.device_id));
}

/** A community's devices (managers, with provisioning) or, without communityId, the caller's own. */
export default function DevicesPage({ communityId }: { communityId?: number }) {
  const { t } = useTranslation();
  const queries = useQueryClient();
  const [credentials, setCredentials] = useState<Credentials | null>(null);
  const [confirmRevoke, setConfirmRevoke] = useState<Device | null>(null);

  const plants = useQuery({
    queryKey: ["plants", communityId ?? "mine"],
    queryFn: () =>
      unwrap(cerApi.GET("/api/plants/", { params: { query: { per_page: 100, ...(communityId ? { cer_id: communityId } : {}) } } })),
  });
  const devices = useQuery({
    queryKey: ["devices"],
    queryFn: () => unwrap(iotApi.GET("/api/iot/devices/", { params: { query: { per_page: 100, include_revoked: true } } })),
    refetchInterval: 30_000,
  });
  const plantIds = new Set((plants.data ?? []).map((p) => p.id));
  const shown = offlineFirst((devices.data ?? []).filter((d) => !communityId || plantIds.has(d.plant_id)));
  const plantName = (id: number) => plants.data?.find((p) => p.id === id)?.name ?? `#${id}`;
  const refresh = () => void queries.invalidateQueries({ queryKey: ["devices"] });

  const rotate = useMutation({
    mutationFn: (id: string) =>
      unwrap(iotApi.POST("/api/iot/devices/{device_id}/credentials/", { params: { path: { device_id: id } } })),
    onSuccess: (provisioned) => {
      setCredentials(provisioned.credentials);
      refresh();
    },
  });
  const revoke = useMutation({
    mutationFn: (id: string) => unwrap(iotApi.DELETE("/api/iot/devices/{device_id}/", { params: { path: { device_id: id } } })),
    onSuccess: () => {
      setConfirmRevoke(null);
      refresh();
    },
  });

  return (
    <Stack>
      <Title order={2}>{communityId ? t("devices.title") : t("devices.mine")}</Title>
      {communityId && plants.data && (
        <ProvisionForm plants={plants.data.map((p) => ({ value: String(p.id), label: `${p.name} (${p.pod})` }))} onProvisioned={(c) => {
          setCredentials(c);
          refresh();
        }} />
      )}
      <FormErrors error={rotate.error ?? revoke.error} fields={[]} />
      {/* The plants name each device's plant: wait for them too (if they fail, the plant ids are shown). */}
      {plants.isPending ? (
        <Loading />
      ) : (
        <QueryView query={devices} isEmpty={() => shown.length === 0} empty={t("devices.empty")}>
          {() => (
            <ScrollTable
              minWidth={640}
              columns={[
                t("devices.id"),
                t("devices.plant"),
                t("devices.model"),
                t("devices.status"),
                t("devices.lastSeen"),
                communityId ? t("common.actions") : null,
              ]}
            >
              {shown.map((d) => (
                <Table.Tr key={d.device_id} data-testid="device-row">
                  <Table.Td>
                    <Code>{d.device_id}</Code>
                  </Table.Td>
                  <Table.Td>{plantName(d.plant_id)}</Table.Td>
                  <Table.Td>{d.model}</Table.Td>
                  <Table.Td>
                    <Badge color={d.revoked ? "gray.7" : (STATUS_COLOR[d.status] ?? "gray.7")}>
                      {d.revoked ? t("devices.revoked") : t(`devices.statuses.${d.status}`, d.status)}
                    </Badge>
                  </Table.Td>
                  <Table.Td>{formatDateTime(d.last_seen)}</Table.Td>
                  {communityId && (
                    <Table.Td>
                      {!d.revoked && (
                        <Group gap="xs" wrap="nowrap">
                          <Button size="xs" variant="default" onClick={() => rotate.mutate(d.device_id)} aria-label={t("devices.rotateOf", { id: d.device_id })}>
                            {t("devices.rotate")}
                          </Button>
                          <Button size="xs" color="red" variant="light" onClick={() => setConfirmRevoke(d)} aria-label={t("devices.revokeOf", { id: d.device_id })}>
                            {t("devices.revoke")}
                          </Button>
                        </Group>
                      )}
                    </Table.Td>
                  )}
                </Table.Tr>
              ))}
            </ScrollTable>
          )}
        </QueryView>
      )}
      {credentials && (
        <Modal opened closeButtonProps={{ "aria-label": t("common.close") }} onClose={() => setCredentials(null)} title={t("devices.credentialsTitle")} size="lg">
          <Stack>
            <Alert color="yellow">{t("devices.credentialsOnce")}</Alert>
            <Text>
              {t("devices.broker")}: <Code>{credentials.host}:{credentials.port}</Code>
            </Text>
            <Text>
              {t("devices.username")}: <Code data-testid="mqtt-username">{credentials.username}</Code>
            </Text>
            <Text>
              {t("devices.password")}: <Code data-testid="mqtt-password">{credentials.password}</Code>
            </Text>
            <Button onClick={() => setCredentials(null)}>{t("devices.credentialsSaved")}</Button>
          </Stack>
        </Modal>
      )}
      {confirmRevoke && (
        <Modal opened closeButtonProps={{ "aria-label": t("common.close") }} onClose={() => setConfirmRevoke(null)} title={t("devices.revokeTitle", { id: confirmRevoke.device_id })}>
          <Stack>
            <Text>{t("devices.revokeHint")}</Text>
            <Group justify="end">
              <Button variant="default" onClick={() => setConfirmRevoke(null)}>
                {t("common.cancel")}
              </Button>
              <Button color="red" loading={revoke.isPending} onClick={() => revoke.mutate(confirmRevoke.device_id)}>
                {t("devices.revoke")}
              </Button>
            </Group>
          </Stack>
        </Modal>
      )}
    </Stack>
  );
}

const PROVISION_FIELDS = ["device_id", "plant_id", "model", "interval_s"] as const;

function ProvisionForm({ plants, onProvisioned }: { plants: { value: string; label: string }[]; onProvisioned: (c: Credentials) => void }) {
  const { t } = useTranslation();
  const [deviceId, setDeviceId] = useState("");
  const [plantId, setPlantId] = useState(plants[0]?.value ?? "");
  const [model, setModel] = useState("");
  const provision = useMutation({
    mutationFn: () =>
      unwrap(iotApi.POST("/api/iot/devices/", { body: { device_id: deviceId, plant_id: Number(plantId), model } })),
    onSuccess: (provisioned) => {
      setDeviceId("");
      setModel("");
      onProvisioned(provisioned.credentials);
    },
  });
  if (!plants.length) return null;
  return (
    <Section title={t("devices.provision")} onSubmit={() => provision.mutate()}>
      <FormErrors error={provision.error} fields={PROVISION_FIELDS} />
      <Group align="start" grow preventGrowOverflow={false} wrap="wrap">
        <TextInput label={t("devices.id")} required value={deviceId} onChange={(e) => setDeviceId(e.currentTarget.value)} error={fieldError(provision.error, "device_id")} />
        <NativeSelect label={t("devices.plant")} value={plantId} onChange={(e) => setPlantId(e.currentTarget.value)} data={plants} error={fieldError(provision.error, "plant_id")} />
        <TextInput label={t("devices.model")} required value={model} onChange={(e) => setModel(e.currentTarget.value)} error={fieldError(provision.error, "model")} />
      </Group>
      <Group justify="end">
        <Button type="submit" loading={provision.isPending}>
          {t("devices.provisionSubmit")}
        </Button>
      </Group>
    </Section>
  );
}
