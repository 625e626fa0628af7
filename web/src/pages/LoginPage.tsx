import { Button, Center, Paper, PasswordInput, Stack, TextInput, Title } from "@mantine/core";
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { ApiError, unwrap, userApi } from "../api/client";
import { session } from "../api/session";
import { FormErrors, fieldError } from "../components/States";

const FIELDS = ["username", "password", "otp"] as const;

/** Where to go after signing in: a path of this app only, never an absolute URL from the query string. */
export function safeNext(next: string | null): string {
  return next && next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\") ? next : "/";
}

export function LoginPage() {
  const { t } = useTranslation();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [otp, setOtp] = useState("");
  const [needsOtp, setNeedsOtp] = useState(false);

  const login = useMutation({
    mutationFn: () =>
      unwrap(
        userApi.POST("/api/auth/login/", {
          body: { username, password, ...(needsOtp && otp ? { otp } : {}) },
        }),
      ),
    // Signed in, the app's routes take over and send the person on to
    // `next` (see LoginRedirect in App.tsx).
    onSuccess: (tokens) => session.store(tokens),
    onError: (error) => {
      if (error instanceof ApiError && error.errors.some((e) => e.code === "otp_required")) setNeedsOtp(true);
    },
  });

  // The first otp_required is a step of the sign-in, not an error to show.
  const error =
    login.error instanceof ApiError && login.error.errors.every((e) => e.code === "otp_required") ? null : login.error;

  return (
    <Center mih="100vh" p="md" component="main">
      <Paper withBorder p="xl" w="100%" maw={400} radius="md">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            login.mutate();
          }}
          noValidate
        >
          <Stack>
            <Title order={1} size="h2">
              {t("login.title")}
            </Title>
            <FormErrors error={error} fields={FIELDS} />
            <TextInput
              label={t("login.username")}
              autoComplete="username"
              required
              value={username}
              onChange={(e) => setUsername(e.currentTarget.value)}
              error={fieldError(error, "username")}
            />
            <PasswordInput
              label={t("login.password")}
              autoComplete="current-password"
              required
              value={password}
              onChange={(e) => setPassword(e.currentTarget.value)}
              error={fieldError(error, "password")}
            />
            {needsOtp && (
              <TextInput
                label={t("login.otp")}
                description={t("login.otpHint")}
                autoComplete="one-time-code"
                inputMode="numeric"
                required
                data-autofocus
                autoFocus
                value={otp}
                onChange={(e) => setOtp(e.currentTarget.value)}
                error={fieldError(error, "otp")}
              />
            )}
            <Button type="submit" loading={login.isPending}>
              {t("login.submit")}
            </Button>
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}
