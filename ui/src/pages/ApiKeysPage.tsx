import { useState } from "react";
import { Alert, Badge, Button, Card, Code, Group, Modal, NumberInput, Select, SimpleGrid, Stack, Table, Text, TextInput } from "@mantine/core";
import { useForm } from "@mantine/form";
import { modals } from "@mantine/modals";
import { IconPlus } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, type Schemas } from "../api/client";
import { unwrap } from "../api/problem";
import { useAuth } from "../auth/AuthContext";
import { PageHeader } from "../components/PageHeader";
import { EmptyState, QueryView } from "../components/PageState";
import { Pager } from "../components/Pager";
import { SecretOnce } from "../components/SecretOnce";
import { applyProblem, focusFirstError, notifyFailed, notifySaved } from "../lib/forms";
import { formatDateTime } from "../lib/format";

const LIMIT = 50;
type Role = Schemas["ApiKeyCreate"]["role"];

/** A rate limit: a whole number of requests, at least one. */
function atLeastOne(value: number | string): string | null {
  const n = Number(value);
  return value !== "" && Number.isInteger(n) && n >= 1 ? null : "Must be a whole number, at least 1";
}

export function CreateKeyForm({ onCreated, onCancel }: { onCreated: (key: Schemas["ApiKeyCreated"]) => void; onCancel: () => void }) {
  const [formError, setFormError] = useState<string | null>(null);
  const form = useForm({
    initialValues: { name: "", rpm: 60 as number | string, rpd: 10000 as number | string, role: "admin" as NonNullable<Role> },
    validate: {
      name: (v) => (v.trim() ? null : "Name the key after who uses it"),
      rpm: atLeastOne,
      rpd: atLeastOne,
    },
  });
  const submit = form.onSubmit(async (v) => {
    setFormError(null);
    try {
      onCreated(await unwrap(api.POST("/api/v1/api-keys", { body: { name: v.name.trim(), rpm: Number(v.rpm), rpd: Number(v.rpd), role: v.role } })));
    } catch (error) {
      setFormError(applyProblem(form, error));
    }
  }, focusFirstError);
  return (
    <form onSubmit={submit} noValidate aria-label="API key">
      <Stack>
        {formError && <Alert color="red" role="alert">{formError}</Alert>}
        <TextInput label="Name" required {...form.getInputProps("name")} />
        <SimpleGrid cols={{ base: 1, sm: 3 }}>
          {/* No clamping: a typed -5 must be refused in words, not quietly stored as 1. */}
          <NumberInput label="Requests per minute" min={1} clampBehavior="none" allowDecimal={false} {...form.getInputProps("rpm")} />
          <NumberInput label="Requests per day" min={1} clampBehavior="none" allowDecimal={false} {...form.getInputProps("rpd")} />
          <Select label="Role" allowDeselect={false} data={["owner", "admin", "viewer"]} {...form.getInputProps("role")} />
        </SimpleGrid>
        <Group justify="flex-end">
          <Button variant="default" onClick={onCancel}>Cancel</Button>
          <Button type="submit" loading={form.submitting}>Create key</Button>
        </Group>
      </Stack>
    </form>
  );
}

export function ApiKeysPage() {
  const { canEdit } = useAuth();
  const queryClient = useQueryClient();
  const [offset, setOffset] = useState(0);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<Schemas["ApiKeyCreated"] | null>(null);
  const query = useQuery({
    queryKey: ["api-keys", offset],
    queryFn: () => unwrap(api.GET("/api/v1/api-keys", { params: { query: { limit: LIMIT, offset } } })),
  });
  const revoke = useMutation({
    mutationFn: (id: string) => unwrap(api.DELETE("/api/v1/api-keys/{key_id}", { params: { path: { key_id: id } } })),
    onSuccess: () => { void queryClient.invalidateQueries({ queryKey: ["api-keys"] }); notifySaved("Key revoked"); },
    onError: notifyFailed,
  });

  return (
    <>
      <PageHeader title="API keys" description="Keys for programs that originate calls or read records, each with its own rate limits."
        actions={canEdit && <Button leftSection={<IconPlus size={16} />} onClick={() => setCreating(true)}>New API key</Button>} />
      <Card withBorder p={0}>
        <QueryView query={query} what="API keys">
          {(page) => page.items.length === 0 ? <EmptyState title="No API keys yet">Create one for each program that calls the API.</EmptyState> : (
            <Table.ScrollContainer minWidth={760}>
              <Table striped>
                <Table.Thead><Table.Tr><Table.Th>Name</Table.Th><Table.Th>Prefix</Table.Th><Table.Th>Role</Table.Th><Table.Th>Limits</Table.Th><Table.Th>Last used</Table.Th><Table.Th>Created</Table.Th><Table.Th>State</Table.Th></Table.Tr></Table.Thead>
                <Table.Tbody>
                  {page.items.map((k) => (
                    <Table.Tr key={k.id}>
                      <Table.Td fw={600}>{k.name}</Table.Td>
                      <Table.Td><Code>{k.prefix}…</Code></Table.Td>
                      <Table.Td>{k.role}</Table.Td>
                      <Table.Td><Text size="sm">{k.rpm}/min · {k.rpd}/day</Text></Table.Td>
                      <Table.Td>{formatDateTime(k.last_used_at)}</Table.Td>
                      <Table.Td>{formatDateTime(k.created_at)}</Table.Td>
                      <Table.Td>
                        {k.revoked_at ? <Badge color="gray">Revoked</Badge> : canEdit ? (
                          <Button size="compact-xs" color="red" variant="light" aria-label={`Revoke ${k.name}`}
                            onClick={() => modals.openConfirmModal({
                              title: `Revoke ${k.name}?`, children: "Programs using this key get 401 from now on.",
                              labels: { confirm: "Revoke", cancel: "Cancel" }, confirmProps: { color: "red" }, onConfirm: () => revoke.mutate(k.id),
                            })}>Revoke</Button>
                        ) : <Badge color="green">Active</Badge>}
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          )}
        </QueryView>
      </Card>
      {query.data && <Pager total={query.data.total} limit={LIMIT} offset={offset} onOffset={setOffset} />}
      <Modal opened={creating} onClose={() => { setCreating(false); setCreated(null); }} title={created ? `API key ${created.name}` : "New API key"} size="lg"
        closeOnClickOutside={!created}>
        {created ? (
          <SecretOnce title="Your new API key" secret={created.key} onDone={() => { setCreating(false); setCreated(null); }} />
        ) : (
          <CreateKeyForm onCancel={() => setCreating(false)} onCreated={(k) => { setCreated(k); void queryClient.invalidateQueries({ queryKey: ["api-keys"] }); }} />
        )}
      </Modal>
    </>
  );
}
