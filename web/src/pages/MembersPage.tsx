import { Badge, Button, Group, NativeSelect, Stack, Table, TextInput, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { cerApi, unwrap } from "../api/client";
import type { components } from "../api/generated/cer";
import { ScrollTable } from "../components/ScrollTable";
import { Section } from "../components/Section";
import { FormErrors, QueryView, fieldError } from "../components/States";
import { MemberPeriodDialog } from "./MemberPeriodDialog";
import { formatDate } from "../format";

type Role = NonNullable<components["schemas"]["MemberUpdate"]["role"]>;
type Member = components["schemas"]["MemberOut"];
type MemberType = components["schemas"]["InvitationIn"]["member_type"];
const ROLES: Role[] = ["ADMIN", "MEMBER", "VIEWER"];

export default function MembersPage({ communityId }: { communityId: number }) {
  const { t } = useTranslation();
  const queries = useQueryClient();
  const members = useQuery({
    queryKey: ["members", communityId],
    queryFn: () =>
      unwrap(cerApi.GET("/api/cer/{cer_id}/members/", { params: { path: { cer_id: communityId }, query: { per_page: 100 } } })),
  });
  const invitations = useQuery({
    queryKey: ["invitations", communityId],
    queryFn: () => unwrap(cerApi.GET("/api/cer/{cer_id}/invitations/", { params: { path: { cer_id: communityId } } })),
  });
  const changeRole = useMutation({
    mutationFn: ({ userId, role }: { userId: number; role: Role }) =>
      unwrap(cerApi.PUT("/api/cer/{cer_id}/members/{user_id}/", { params: { path: { cer_id: communityId, user_id: userId } }, body: { role } })),
    onSettled: () => void queries.invalidateQueries({ queryKey: ["members", communityId] }),
  });
  const roleOptions = ROLES.map((r) => ({ value: r, label: t(`members.roles.${r}`) }));
  const [editing, setEditing] = useState<{ member: Member; name: string } | null>(null);

  return (
    <Stack>
      <Title order={2}>{t("members.title")}</Title>
      <InviteForm communityId={communityId} roleOptions={roleOptions} />
      <FormErrors error={changeRole.error} fields={[]} />
      <QueryView query={members} empty={t("members.empty")}>
        {(rows) => (
          <ScrollTable
            minWidth={760}
            columns={[
              t("members.name"),
              t("members.type"),
              t("members.role"),
              t("members.period"),
              t("members.state"),
              t("common.actions"),
            ]}
          >
            {rows.map((m) => {
              const name = [m.first_name, m.last_name].filter(Boolean).join(" ") || m.username || `#${m.user_id}`;
              return (
                <Table.Tr key={m.membership_id} data-testid="member-row">
                  <Table.Td>{name}</Table.Td>
                  <Table.Td>
                    {t(`members.memberTypes.${m.member_type}`, m.member_type)}
                    {m.body_type !== "NONE" ? ` · ${t(`members.bodyTypes.${m.body_type}`, m.body_type)}` : ""}
                  </Table.Td>
                  <Table.Td>
                    <NativeSelect
                      size="xs"
                      aria-label={t("members.roleOf", { name })}
                      value={m.role}
                      disabled={!m.is_active || changeRole.isPending}
                      data={roleOptions}
                      onChange={(e) => changeRole.mutate({ userId: m.user_id, role: e.currentTarget.value as Role })}
                    />
                  </Table.Td>
                  <Table.Td>
                    {formatDate(m.valid_from)} – {m.valid_to ? formatDate(m.valid_to) : t("members.ongoing")}
                  </Table.Td>
                  <Table.Td>
                    <Badge color={m.is_active ? "teal.9" : "gray.7"}>
                      {m.is_active ? t("members.active") : t("members.ended")}
                    </Badge>
                  </Table.Td>
                  <Table.Td>
                    {m.is_active && (
                      <Button size="xs" variant="default" aria-label={t("periods.editOf", { name })} onClick={() => setEditing({ member: m, name })}>
                        {t("periods.edit")}
                      </Button>
                    )}
                  </Table.Td>
                </Table.Tr>
              );
            })}
          </ScrollTable>
        )}
      </QueryView>
      {editing && (
        <MemberPeriodDialog
          communityId={communityId}
          member={editing.member}
          name={editing.name}
          roleOptions={roleOptions}
          onClose={() => setEditing(null)}
        />
      )}
      {invitations.data && invitations.data.length > 0 && (
        <Section title={t("members.invitations")} layout="flush">
          <ScrollTable
            minWidth={520}
            striped={false}
            columns={[t("members.email"), t("members.role"), t("members.state"), t("members.expires")]}
          >
            {invitations.data.map((i) => (
              <Table.Tr key={i.invitation_id}>
                <Table.Td>{i.email}</Table.Td>
                <Table.Td>{t(`members.roles.${i.role}`, i.role)}</Table.Td>
                <Table.Td>{t(`members.invitationStatuses.${i.status}`, i.status)}</Table.Td>
                <Table.Td>{formatDate(i.expires_at)}</Table.Td>
              </Table.Tr>
            ))}
          </ScrollTable>
        </Section>
      )}
    </Stack>
  );
}

const INVITE_FIELDS = ["email", "role", "member_type", "joined_on"] as const;

function InviteForm({ communityId, roleOptions }: { communityId: number; roleOptions: { value: string; label: string }[] }) {
  const { t } = useTranslation();
  const queries = useQueryClient();
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("MEMBER");
  const [memberType, setMemberType] = useState<MemberType>("PRIVATE");
  const [joinedOn, setJoinedOn] = useState("");
  const invite = useMutation({
    mutationFn: () =>
      unwrap(
        cerApi.POST("/api/cer/{cer_id}/invitations/", {
          params: { path: { cer_id: communityId } },
          body: { email, role, member_type: memberType, ...(joinedOn ? { joined_on: joinedOn } : {}) },
        }),
      ),
    onSuccess: () => {
      setEmail("");
      void queries.invalidateQueries({ queryKey: ["invitations", communityId] });
    },
  });
  return (
    <Section title={t("members.invite")} onSubmit={() => invite.mutate()}>
      <FormErrors error={invite.error} fields={INVITE_FIELDS} />
      <Group align="start" wrap="wrap">
        <TextInput type="email" label={t("members.email")} required value={email} onChange={(e) => setEmail(e.currentTarget.value)} error={fieldError(invite.error, "email")} />
        <NativeSelect label={t("members.role")} value={role} data={roleOptions} onChange={(e) => setRole(e.currentTarget.value as Role)} error={fieldError(invite.error, "role")} />
        <NativeSelect
          label={t("members.type")}
          value={memberType}
          onChange={(e) => setMemberType(e.currentTarget.value as MemberType)}
          data={[
            { value: "PRIVATE", label: t("members.memberTypes.PRIVATE") },
            { value: "ENTERPRISE", label: t("members.memberTypes.ENTERPRISE") },
          ]}
        />
        <TextInput type="date" label={t("members.joinedOn")} value={joinedOn} onChange={(e) => setJoinedOn(e.currentTarget.value)} error={fieldError(invite.error, "joined_on")} />
      </Group>
      <Group justify="end">
        {invite.isSuccess && <Badge color="teal.9">{t("members.invited")}</Badge>}
        <Button type="submit" loading={invite.isPending}>
          {t("members.inviteSubmit")}
        </Button>
      </Group>
    </Section>
  );
}
