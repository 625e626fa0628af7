import { Alert, Badge, Button, Code, Group, Paper, PasswordInput, Stack, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { unwrap, userApi } from "../api/client";
import { useMe } from "../api/hooks";
import { Section } from "../components/Section";
import { ErrorState, FormErrors, Loading, fieldError } from "../components/States";
import { formatDate } from "../format";

export default function ProfilePage() {
  const { t } = useTranslation();
  const me = useMe();
  if (me.isPending) return <Loading />;
  if (me.isError) return <ErrorState error={me.error} />;
  const user = me.data;
  return (
    <Stack>
      <Title order={2}>{t("profile.title")}</Title>
      <Section title={<>{user.first_name} {user.last_name}</>} layout="flush">
        <Text>
          {t("login.username")}: {user.username}
        </Text>
        <Text>
          {t("profile.email")}: {user.email}
        </Text>
        <Text>
          {t("profile.since")}: {formatDate(user.created_at)}
        </Text>
      </Section>
      <TwoFactor enabled={user.two_factor_enabled} />
    </Stack>
  );
}

function TwoFactor({ enabled }: { enabled: boolean }) {
  const { t } = useTranslation();
  const queries = useQueryClient();
  const [otp, setOtp] = useState("");
  const [password, setPassword] = useState("");
  const setup = useMutation({ mutationFn: () => unwrap(userApi.POST("/api/auth/2fa/setup/")) });
  const confirm = useMutation({
    mutationFn: () => unwrap(userApi.POST("/api/auth/2fa/confirm/", { body: { otp } })),
    onSuccess: () => {
      setOtp("");
      setup.reset();
      void queries.invalidateQueries({ queryKey: ["me"] });
    },
  });
  const disable = useMutation({
    mutationFn: () => unwrap(userApi.POST("/api/auth/2fa/disable/", { body: { otp, password } })),
    onSuccess: () => {
      setOtp("");
      setPassword("");
      void queries.invalidateQueries({ queryKey: ["me"] });
    },
  });
  return (
    <Paper withBorder p="md" radius="md" component="section" aria-labelledby="tfa-title">
      <Stack>
        <Group>
          <Title order={3} size="h4" id="tfa-title">
            {t("profile.twoFactor")}
          </Title>
          <Badge color={enabled ? "teal.9" : "gray.7"}>{enabled ? t("profile.on") : t("profile.off")}</Badge>
        </Group>
        {!enabled && !setup.data && (
          <Group>
            <Button onClick={() => setup.mutate()} loading={setup.isPending}>
              {t("profile.enable")}
            </Button>
          </Group>
        )}
        <FormErrors error={setup.error} fields={[]} />
        {!enabled && setup.data && (
          <form
            onSubmit={(e) => {
              e.preventDefault();
              confirm.mutate();
            }}
          >
            <Stack>
              <Alert color="blue">{t("profile.scanHint")}</Alert>
              <Text>
                {t("profile.secret")}: <Code data-testid="totp-secret">{setup.data.secret}</Code>
              </Text>
              <Text size="xs" c="dimmed" style={{ wordBreak: "break-all" }}>
                {setup.data.otpauth_uri}
              </Text>
              <FormErrors error={confirm.error} fields={["otp"]} />
              <TextInput label={t("login.otp")} inputMode="numeric" autoComplete="one-time-code" required value={otp} onChange={(e) => setOtp(e.currentTarget.value)} error={fieldError(confirm.error, "otp")} />
              <Group>
                <Button type="submit" loading={confirm.isPending}>
                  {t("profile.confirm")}
                </Button>
              </Group>
            </Stack>
          </form>
        )}
        {enabled && (
          <form
            onSubmit={(e) => {
              e.preventDefault();
              disable.mutate();
            }}
          >
            <Stack>
              <FormErrors error={disable.error} fields={["otp", "password"]} />
              <PasswordInput label={t("login.password")} autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.currentTarget.value)} error={fieldError(disable.error, "password")} />
              <TextInput label={t("login.otp")} inputMode="numeric" autoComplete="one-time-code" required value={otp} onChange={(e) => setOtp(e.currentTarget.value)} error={fieldError(disable.error, "otp")} />
              <Group>
                <Button type="submit" color="red" variant="light" loading={disable.isPending}>
                  {t("profile.disable")}
                </Button>
              </Group>
            </Stack>
          </form>
        )}
      </Stack>
    </Paper>
  );
}
