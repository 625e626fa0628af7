// A member's period in the community, edited by a manager: the role, the
// first day (a correction) and the last day (the member leaves then). Each
// API error is shown next to the field it names.
import { Button, Group, Modal, NativeSelect, Stack, Text, TextInput } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { cerApi, unwrap } from "../api/client";
import type { components } from "../api/generated/cer";
import { FormErrors, fieldError } from "../components/States";

type Member = components["schemas"]["MemberOut"];
type Role = NonNullable<components["schemas"]["MemberUpdate"]["role"]>;

const FIELDS = ["role", "valid_from", "left_on"] as const;

export function MemberPeriodDialog({
  communityId,
  member,
  name,
  roleOptions,
  onClose,
}: {
  communityId: number;
  member: Member;
  name: string;
  roleOptions: { value: string; label: string }[];
  onClose: () => void;
}) {
  const { t } = useTranslation();
  const queries = useQueryClient();
  const [role, setRole] = useState(member.role as Role);
  const [start, setStart] = useState(member.valid_from);
  const [end, setEnd] = useState(member.valid_to ?? "");
  const path = { cer_id: communityId, user_id: member.user_id };
  const save = useMutation({
    mutationFn: async () => {
      // Role and first day in one update; then the end, which closes the period.
      const update = {
        ...(role !== member.role ? { role } : {}),
        ...(start !== member.valid_from ? { valid_from: start } : {}),
      };
      if (Object.keys(update).length) {
        await unwrap(cerApi.PUT("/api/cer/{cer_id}/members/{user_id}/", { params: { path }, body: update }));
      }
      if (end && end !== member.valid_to) {
        await unwrap(cerApi.DELETE("/api/cer/{cer_id}/members/{user_id}/", { params: { path, query: { left_on: end } } }));
      }
    },
    onSuccess: () => onClose(),
    onSettled: () => void queries.invalidateQueries({ queryKey: ["members", communityId] }),
  });
  return (
    <Modal closeButtonProps={{ "aria-label": t("common.close") }} opened onClose={onClose} title={t("periods.title", { name })} centered>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          save.mutate();
        }}
      >
        <Stack>
          <FormErrors error={save.error} fields={FIELDS} />
          <NativeSelect
            label={t("members.role")}
            value={role}
            data={roleOptions}
            onChange={(e) => setRole(e.currentTarget.value as Role)}
            error={fieldError(save.error, "role")}
          />
          <TextInput
            type="date"
            label={t("periods.start")}
            required
            value={start}
            onChange={(e) => setStart(e.currentTarget.value)}
            error={fieldError(save.error, "valid_from")}
          />
          <TextInput
            type="date"
            label={t("periods.end")}
            description={t("periods.endHint")}
            value={end}
            onChange={(e) => setEnd(e.currentTarget.value)}
            error={fieldError(save.error, "left_on")}
          />
          <Text size="sm" c="dimmed">
            {t("periods.history")}
          </Text>
          <Group justify="end">
            <Button variant="default" onClick={onClose}>
              {t("common.cancel")}
            </Button>
            <Button type="submit" loading={save.isPending}>
              {t("periods.save")}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
