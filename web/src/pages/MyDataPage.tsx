// My data (GDPR): download everything the platform holds about me, from each
// service that holds some, as one JSON file; and erase my account, after a
// confirmation that says what goes and what the law keeps.
import { Alert, Button, Checkbox, Group, List, Modal, PasswordInput, Stack, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { cerApi, economicApi, iotApi, notificationApi, saveBlob, unwrap, userApi } from "../api/client";
import { useMe } from "../api/hooks";
import { session } from "../api/session";
import { Section } from "../components/Section";
import { ErrorState, FormErrors, Loading, fieldError } from "../components/States";
import { italianToday } from "../format";

/** Each service's answer about the caller, bundled into one document. */
export async function collectMyData(): Promise<Record<string, unknown>> {
  const [account, community, money, notifications, preferences] = await Promise.all([
    unwrap(userApi.GET("/api/users/me/export/")),
    unwrap(cerApi.GET("/api/cer/me/export/")),
    unwrap(economicApi.GET("/api/economic/members/me/")),
    unwrap(notificationApi.GET("/api/notifications/", { params: { query: { per_page: 100 } } })),
    unwrap(notificationApi.GET("/api/notifications/preferences/")),
  ]);
  // The devices on my plants (a manager's list also holds the community's).
  const mine = new Set(community.plants.map((p) => p.id));
  const devices = mine.size
    ? (await unwrap(iotApi.GET("/api/iot/devices/", { params: { query: { per_page: 100, include_revoked: true } } }))).filter((d) =>
        mine.has(d.plant_id),
      )
    : [];
  return {
    exported_at: new Date().toISOString(),
    account,
    communities: community,
    earnings: money,
    devices,
    notifications: { received: notifications, preferences },
  };
}

export default function MyDataPage() {
  const { t } = useTranslation();
  const me = useMe();
  const exportData = useMutation({
    mutationFn: async () => {
      const data = await collectMyData();
      saveBlob(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }), `cercollettiva-${me.data?.username ?? "dati"}-${italianToday()}.json`);
    },
  });
  if (me.isPending) return <Loading />;
  if (me.isError) return <ErrorState error={me.error} />;
  return (
    <Stack>
      <Title order={2}>{t("myData.title")}</Title>
      <Section title={t("myData.exportTitle")}>
        <Text>{t("myData.exportText")}</Text>
        <FormErrors error={exportData.error} fields={[]} />
        <Group>
          <Button onClick={() => exportData.mutate()} loading={exportData.isPending}>
            {t("myData.download")}
          </Button>
          {exportData.isSuccess && <Text c="teal.9">{t("myData.downloaded")}</Text>}
        </Group>
      </Section>
      <Erasure twoFactor={me.data.two_factor_enabled} username={me.data.username} />
    </Stack>
  );
}

function Erasure({ twoFactor, username }: { twoFactor: boolean; username: string }) {
  const { t } = useTranslation();
  const queries = useQueryClient();
  const [open, setOpen] = useState(false);
  const [understood, setUnderstood] = useState(false);
  const [password, setPassword] = useState("");
  const [otp, setOtp] = useState("");
  const [erased, setErased] = useState(false);
  const erase = useMutation({
    mutationFn: () => unwrap(userApi.POST("/api/users/me/erasure/", { body: { password, ...(twoFactor ? { otp } : {}) } })),
    onSuccess: () => {
      setErased(true);
      setOpen(false);
    },
  });
  const close = () => {
    setOpen(false);
    setPassword("");
    setOtp("");
    setUnderstood(false);
    erase.reset();
  };
  if (erased) {
    // The account is gone: say what was kept, then the only way on is out.
    return (
      <Alert color="teal" variant="default" title={t("myData.erasedTitle")} role="status">
        <Stack>
          <Text>{t("myData.erasedText")}</Text>
          <Text>{t("myData.kept")}</Text>
          <Group>
            <Button
              onClick={() => {
                session.clear();
                queries.clear();
              }}
            >
              {t("nav.signOut")}
            </Button>
          </Group>
        </Stack>
      </Alert>
    );
  }
  return (
    <Section title={t("myData.eraseTitle")}>
      <Text>{t("myData.eraseText")}</Text>
      <List size="sm">
        <List.Item>{t("myData.goes")}</List.Item>
        <List.Item>{t("myData.kept")}</List.Item>
      </List>
      <Group>
        <Button color="red.9" variant="outline" onClick={() => setOpen(true)}>
          {t("myData.erase")}
        </Button>
      </Group>
      <Modal closeButtonProps={{ "aria-label": t("common.close") }} opened={open} onClose={close} title={t("myData.confirmTitle")} centered>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            erase.mutate();
          }}
        >
          <Stack>
            <Text>{t("myData.confirmText", { username })}</Text>
            <Text size="sm" c="dimmed">
              {t("myData.kept")}
            </Text>
            <FormErrors error={erase.error} fields={["password", "otp"]} />
            <PasswordInput
              label={t("login.password")}
              autoComplete="current-password"
              required
              value={password}
              onChange={(e) => setPassword(e.currentTarget.value)}
              error={fieldError(erase.error, "password")}
              // Mantine marks only its wrapper: the field itself must say it is wrong.
              aria-invalid={fieldError(erase.error, "password") ? true : undefined}
            />
            {twoFactor && (
              <TextInput
                label={t("login.otp")}
                autoComplete="one-time-code"
                inputMode="numeric"
                required
                value={otp}
                onChange={(e) => setOtp(e.currentTarget.value)}
                error={fieldError(erase.error, "otp")}
              />
            )}
            <Checkbox label={t("myData.understood")} checked={understood} onChange={(e) => setUnderstood(e.currentTarget.checked)} />
            <Group justify="end">
              <Button variant="default" onClick={close}>
                {t("common.cancel")}
              </Button>
              <Button type="submit" color="red.9" disabled={!understood || !password} loading={erase.isPending}>
                {t("myData.eraseConfirm")}
              </Button>
            </Group>
          </Stack>
        </form>
      </Modal>
    </Section>
  );
}
