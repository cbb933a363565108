import { useState } from "react";
import { ActionIcon, Alert, Button, Card, Group, Modal, PasswordInput, Select, Stack, Table, Text, TextInput, Tooltip } from "@mantine/core";
import { useForm } from "@mantine/form";
import { modals } from "@mantine/modals";
import { IconKey, IconMail, IconPlus, IconTrash } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, type Schemas } from "../api/client";
import { unwrap } from "../api/problem";
import { useAuth } from "../auth/AuthContext";
import { PageHeader } from "../components/PageHeader";
import { EmptyState, QueryView } from "../components/PageState";
import { Pager } from "../components/Pager";
import { applyProblem, focusFirstError, notifyFailed, notifySaved } from "../lib/forms";
import { formatDateTime } from "../lib/format";

const LIMIT = 50;
type Role = Schemas["UserOut"]["role"];
const ROLES = [{ value: "owner", label: "Owner" }, { value: "admin", label: "Admin" }, { value: "viewer", label: "Viewer" }];

function InviteForm({ onDone, onCancel }: { onDone: () => void; onCancel: () => void }) {
  const [formError, setFormError] = useState<string | null>(null);
  const form = useForm({
    initialValues: { email: "", password: "", role: "viewer" as Role },
    validate: {
      email: (v) => (/^[^@\s]+@[^@\s]+$/.test(v) ? null : "Enter an e-mail address"),
      password: (v) => (v.length >= 8 ? null : "At least 8 characters"),
    },
  });
  const submit = form.onSubmit(async (v) => {
    setFormError(null);
    try {
      await unwrap(api.POST("/api/v1/users", { body: v }));
      onDone();
    } catch (error) {
      setFormError(applyProblem(form, error));
    }
  }, focusFirstError);
  return (
    <form onSubmit={submit} noValidate aria-label="User">
      <Stack>
        {formError && <Alert color="red" role="alert">{formError}</Alert>}
        <TextInput label="E-mail" type="email" required {...form.getInputProps("email")} />
        <PasswordInput label="Initial password" required autoComplete="new-password" {...form.getInputProps("password")} />
        <Select label="Role" allowDeselect={false} data={ROLES} {...form.getInputProps("role")} />
        <Group justify="flex-end">
          <Button variant="default" onClick={onCancel}>Cancel</Button>
          <Button type="submit" loading={form.submitting}>Add user</Button>
        </Group>
      </Stack>
    </form>
  );
}

function InvitationForm({ canGrantOwner, onDone, onCancel }: { canGrantOwner: boolean; onDone: () => void; onCancel: () => void }) {
  const [formError, setFormError] = useState<string | null>(null);
  const form = useForm({
    initialValues: { email: "", role: "viewer" as Role },
    validate: { email: (v) => (/^[^@\s]+@[^@\s]+$/.test(v) ? null : "Enter an e-mail address") },
  });
  const submit = form.onSubmit(async (v) => {
    setFormError(null);
    try {
      await unwrap(api.POST("/api/v1/users/invitations", { body: v }));
      onDone();
    } catch (error) {
      setFormError(applyProblem(form, error));
    }
  });
  return (
    <form onSubmit={submit} noValidate aria-label="Invitation">
      <Stack>
        {formError && <Alert color="red" role="alert">{formError}</Alert>}
        <Text size="sm">They receive a link, good once for 7 days, to choose their password.</Text>
        <TextInput label="E-mail" type="email" required {...form.getInputProps("email")} />
        <Select label="Role" allowDeselect={false} data={canGrantOwner ? ROLES : ROLES.filter((r) => r.value !== "owner")} {...form.getInputProps("role")} />
        <Group justify="flex-end">
          <Button variant="default" onClick={onCancel}>Cancel</Button>
          <Button type="submit" loading={form.submitting}>Send invitation</Button>
        </Group>
      </Stack>
    </form>
  );
}

function PendingInvitations({ canEdit }: { canEdit: boolean }) {
  const queryClient = useQueryClient();
  const query = useQuery({ queryKey: ["invitations"], queryFn: () => unwrap(api.GET("/api/v1/users/invitations")) });
  const revoke = useMutation({
    mutationFn: (id: string) => unwrap(api.DELETE("/api/v1/users/invitations/{invitation_id}", { params: { path: { invitation_id: id } } })),
    onSuccess: () => { void queryClient.invalidateQueries({ queryKey: ["invitations"] }); notifySaved("Invitation revoked"); },
    onError: notifyFailed,
  });
  if (!query.data || query.data.items.length === 0) return null;
  return (
    <Card withBorder p={0} mt="md">
      <Table>
        <Table.Caption>Invitations not accepted yet</Table.Caption>
        <Table.Thead><Table.Tr><Table.Th>E-mail</Table.Th><Table.Th>Role</Table.Th><Table.Th>Invited by</Table.Th><Table.Th>Expires</Table.Th><Table.Th><span className="sr-only">Actions</span></Table.Th></Table.Tr></Table.Thead>
        <Table.Tbody>
          {query.data.items.map((i) => (
            <Table.Tr key={i.id}>
              <Table.Td>{i.email}</Table.Td>
              <Table.Td>{i.role}</Table.Td>
              <Table.Td>{i.invited_by}</Table.Td>
              <Table.Td>{formatDateTime(i.expires_at)}</Table.Td>
              <Table.Td>
                {canEdit && (
                  <Tooltip label="Revoke"><ActionIcon variant="subtle" color="red" aria-label={`Revoke the invitation of ${i.email}`} onClick={() => revoke.mutate(i.id)}><IconTrash size={18} /></ActionIcon></Tooltip>
                )}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Card>
  );
}

function PasswordForm({ user, onDone, onCancel }: { user: Schemas["UserOut"]; onDone: () => void; onCancel: () => void }) {
  const [formError, setFormError] = useState<string | null>(null);
  const form = useForm({
    initialValues: { password: "" },
    validate: { password: (v) => (v.length >= 8 ? null : "At least 8 characters") },
  });
  const submit = form.onSubmit(async ({ password }) => {
    setFormError(null);
    try {
      await unwrap(api.PATCH("/api/v1/users/{user_id}", { params: { path: { user_id: user.id } }, body: { password } }));
      onDone();
    } catch (error) {
      setFormError(applyProblem(form, error));
    }
  }, focusFirstError);
  return (
    <form onSubmit={submit} noValidate aria-label="New password">
      <Stack>
        {formError && <Alert color="red" role="alert">{formError}</Alert>}
        <PasswordInput label="New password" required autoComplete="new-password" {...form.getInputProps("password")} />
        <Group justify="flex-end">
          <Button variant="default" onClick={onCancel}>Cancel</Button>
          <Button type="submit" loading={form.submitting}>Set password</Button>
        </Group>
      </Stack>
    </form>
  );
}

export function UsersPage() {
  const { me, canEdit } = useAuth();
  const isOwner = me?.role === "owner";
  const [inviting, setInviting] = useState(false);
  const queryClient = useQueryClient();
  const [offset, setOffset] = useState(0);
  const [adding, setAdding] = useState(false);
  const [resetting, setResetting] = useState<Schemas["UserOut"] | null>(null);
  const query = useQuery({
    queryKey: ["users", offset],
    queryFn: () => unwrap(api.GET("/api/v1/users", { params: { query: { limit: LIMIT, offset } } })),
  });
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["users"] });
  const changeRole = useMutation({
    mutationFn: ({ id, role }: { id: string; role: Role }) => unwrap(api.PATCH("/api/v1/users/{user_id}", { params: { path: { user_id: id } }, body: { role } })),
    onSuccess: () => { void refresh(); notifySaved("Role changed"); },
    onError: (e) => { void refresh(); notifyFailed(e); },
  });
  const remove = useMutation({
    mutationFn: (id: string) => unwrap(api.DELETE("/api/v1/users/{user_id}", { params: { path: { user_id: id } } })),
    onSuccess: () => { void refresh(); notifySaved("User removed"); },
    onError: notifyFailed,
  });

  return (
    <>
      <PageHeader title="Users" description="People who can sign in to this tenant. Owners manage users; viewers only look."
        actions={<Group>
          {canEdit && <Button variant="light" leftSection={<IconMail size={16} />} onClick={() => setInviting(true)}>Invite</Button>}
          {isOwner && <Button leftSection={<IconPlus size={16} />} onClick={() => setAdding(true)}>Add user</Button>}
        </Group>} />
      <Card withBorder p={0}>
        <QueryView query={query} what="users">
          {(page) => page.items.length === 0 ? <EmptyState title="No users" /> : (
            <Table.ScrollContainer minWidth={560}>
              <Table striped>
                <Table.Thead><Table.Tr><Table.Th>E-mail</Table.Th><Table.Th>Role</Table.Th><Table.Th>Since</Table.Th><Table.Th className="row-actions"><span className="sr-only">Actions</span></Table.Th></Table.Tr></Table.Thead>
                <Table.Tbody>
                  {page.items.map((u) => {
                    const self = u.id === me?.user_id;
                    return (
                      <Table.Tr key={u.id}>
                        <Table.Td>{u.email}{self && <Text span c="dimmed" size="xs"> (you)</Text>}</Table.Td>
                        <Table.Td>
                          <Select aria-label={`Role of ${u.email}`} data={ROLES} value={u.role} allowDeselect={false} disabled={!isOwner || self} w={140}
                            onChange={(role) => role && changeRole.mutate({ id: u.id, role: role as Role })} />
                        </Table.Td>
                        <Table.Td>{formatDateTime(u.created_at)}</Table.Td>
                        <Table.Td className="row-actions">
                          <Group gap={4} wrap="nowrap" justify="flex-end">
                          {isOwner && (
                            <Tooltip label="Set password"><ActionIcon variant="subtle" aria-label={`Set the password of ${u.email}`} onClick={() => setResetting(u)}><IconKey size={18} /></ActionIcon></Tooltip>
                          )}
                          {isOwner && !self && (
                            <Tooltip label="Remove"><ActionIcon variant="subtle" color="red" aria-label={`Remove ${u.email}`} onClick={() => modals.openConfirmModal({
                              title: `Remove ${u.email}?`, children: "They can no longer sign in.", labels: { confirm: "Remove", cancel: "Cancel" }, confirmProps: { color: "red" }, onConfirm: () => remove.mutate(u.id),
                            })}><IconTrash size={18} /></ActionIcon></Tooltip>
                          )}
                          </Group>
                        </Table.Td>
                      </Table.Tr>
                    );
                  })}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          )}
        </QueryView>
      </Card>
      {query.data && <Pager total={query.data.total} limit={LIMIT} offset={offset} onOffset={setOffset} />}
      <PendingInvitations canEdit={canEdit} />
      <Modal opened={inviting} onClose={() => setInviting(false)} title="Invite a colleague">
        {inviting && <InvitationForm canGrantOwner={isOwner} onCancel={() => setInviting(false)} onDone={() => {
          setInviting(false);
          void queryClient.invalidateQueries({ queryKey: ["invitations"] });
          notifySaved("Invitation sent");
        }} />}
      </Modal>
      <Modal opened={resetting !== null} onClose={() => setResetting(null)} title={`New password for ${resetting?.email ?? ""}`}>
        {resetting && <PasswordForm user={resetting} onCancel={() => setResetting(null)} onDone={() => { setResetting(null); notifySaved("Password changed"); }} />}
      </Modal>
      <Modal opened={adding} onClose={() => setAdding(false)} title="Add a user">
        {adding && <InviteForm onCancel={() => setAdding(false)} onDone={() => { setAdding(false); void refresh(); notifySaved("User added"); }} />}
      </Modal>
    </>
  );
}
