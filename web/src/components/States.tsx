import { Alert, Center, Loader, Stack, Text, Title, VisuallyHidden } from "@mantine/core";
import type { UseQueryResult } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { ApiError } from "../api/client";

export function Loading() {
  const { t } = useTranslation();
  return (
    <Center py="xl" role="status" aria-live="polite">
      {/* A span may not carry aria-label (axe: aria-prohibited-attr): the
          status says it in text a screen reader reads. */}
      <Loader aria-hidden />
      <VisuallyHidden>{t("common.loading")}</VisuallyHidden>
    </Center>
  );
}

export function NotFound() {
  const { t } = useTranslation();
  return (
    <Stack py="xl" align="center">
      <Title order={2}>{t("common.notFound")}</Title>
      <Text c="dimmed">{t("common.notFoundHint")}</Text>
    </Stack>
  );
}

/** An API failure: 404 is "not found" (another community's data looks like nothing). */
export function ErrorState({ error }: { error: unknown }) {
  const { t } = useTranslation();
  if (error instanceof ApiError && error.notFound) return <NotFound />;
  const message = error instanceof Error ? error.message : String(error);
  return (
    <Alert color="red" title={t("common.error")} role="alert">
      {message}
    </Alert>
  );
}

export function Empty({ children }: { children: React.ReactNode }) {
  return (
    <Text c="dimmed" py="md">
      {children}
    </Text>
  );
}

/**
 * A query's states in the order the pages show them: loading, the error (a 404
 * as "not found"), the `empty` message when the answer holds nothing, else
 * `children` with the answer. Nothing is an empty list, or what `isEmpty` says
 * (for a list the page filters first); without `empty` every answer is drawn.
 * A disabled query counts as loading: render this only when it is enabled.
 */
export function QueryView<T>({
  query,
  isEmpty,
  empty,
  children,
}: {
  query: UseQueryResult<T>;
  isEmpty?: (data: T) => boolean;
  empty?: ReactNode;
  children: (data: T) => ReactNode;
}) {
  if (query.isPending) return <Loading />;
  if (query.isError) return <ErrorState error={query.error} />;
  const nothing = isEmpty ? isEmpty(query.data) : Array.isArray(query.data) && query.data.length === 0;
  if (empty !== undefined && nothing) return <Empty>{empty}</Empty>;
  return <>{children(query.data)}</>;
}

/** Errors of a form that name none of its fields, shown above it. */
export function FormErrors({ error, fields }: { error: unknown; fields: readonly string[] }) {
  if (!error) return null;
  const messages =
    error instanceof ApiError ? error.general(fields).map((e) => e.message) : [error instanceof Error ? error.message : String(error)];
  if (!messages.length) return null;
  return (
    <Alert color="red" role="alert">
      {messages.join(" · ")}
    </Alert>
  );
}

/** The message for one field from an ApiError (for a Mantine input's `error`). */
export function fieldError(error: unknown, field: string): string | undefined {
  if (!(error instanceof ApiError)) return undefined;
  const found = error.forField(field);
  if (!found) return undefined;
  return found.expected ? `${found.message} (${found.expected})` : found.message;
}
