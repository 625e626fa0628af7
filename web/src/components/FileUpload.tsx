import { Button, FileInput, Group } from "@mantine/core";
import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";

/**
 * A file field and the button that sends it: the button is its form's submit
 * and stays off until a file is chosen; the field's clear button is named.
 */
export function FileUpload({
  label,
  description,
  accept,
  file,
  onChange,
  error,
  sending,
  submit,
  w,
  miw,
}: {
  label: string;
  description?: string;
  accept: string;
  file: File | null;
  onChange: (file: File | null) => void;
  error?: ReactNode;
  sending: boolean;
  submit: string;
  w?: number;
  miw?: number;
}) {
  const { t } = useTranslation();
  return (
    <Group align="end">
      <FileInput
        label={label}
        description={description}
        accept={accept}
        value={file}
        onChange={onChange}
        clearable
        clearButtonProps={{ "aria-label": t("common.clear") }}
        error={error}
        w={w}
        miw={miw}
      />
      <Button type="submit" disabled={!file} loading={sending}>
        {submit}
      </Button>
    </Group>
  );
}
