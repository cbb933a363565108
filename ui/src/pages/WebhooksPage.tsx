import { useState } from "react";
import {
  Alert, Badge, Button, Card, Checkbox, Code, Drawer, Group, Modal, Select, Stack, Switch, Table, Text, TextInput,
} from "@mantine/core";
import { useForm } from "@mantine/form";
import { IconList, IconPlus, IconSend } from "@tabler/icons-react";
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
import { EditDeleteActions } from "../components/RowActions";

const LIMIT = 50;
type Webhook = Schemas["WebhookOut"];
type EventName = Schemas["WebhookCreate"]["events"][number];
const EVENTS: EventName[] = [
  "call.started",
  "call.answered",
  "call.transferred",
  "call.ended",
  "call.failed",
  "voicemail.detected",
  "call.analyzed",
  "campaign.started",
  "campaign.completed",
  "campaign.lead.finished",
];

function WebhookForm({ webhook, onSaved, onCancel }: { webhook?: Webhook; onSaved: (created?: Schemas["WebhookCreated"]) => void; onCancel: () => void }) {
  const [formError, setFormError] = useState<string | null>(null);
  const form = useForm({
    initialValues: { url: webhook?.url ?? "https://", events: (webhook?.events ?? ["call.ended"]) as EventName[], active: webhook?.active ?? true },
    validate: {
      url: (v) => (/^https?:\/\/\S+$/.test(v) ? null : "Enter an http(s) URL"),
      events: (v) => (v.length ? null : "Choose at least one event"),
    },
  });
  const submit = form.onSubmit(async (v) => {
    setFormError(null);
    try {
      if (webhook) {
        await unwrap(api.PATCH("/api/v1/webhooks/{webhook_id}", { params: { path: { webhook_id: webhook.id } }, body: v }));
        onSaved();
      } else {
        onSaved(await unwrap(api.POST("/api/v1/webhooks", { body: v })));
      }
    } catch (error) {
      setFormError(applyProblem(form, error));
    }
  }, focusFirstError);
  return (
    <form onSubmit={submit} noValidate aria-label="Webhook">
      <Stack>
        {formError && <Alert color="red" role="alert" title="Not saved">{formError}</Alert>}
        <TextInput label="URL" required description="Receives signed POST requests" {...form.getInputProps("url")} />
        <Checkbox.Group label="Events" required {...form.getInputProps("events")}>
          <Stack gap={6} mt={6}>{EVENTS.map((e) => <Checkbox key={e} value={e} label={e} />)}</Stack>
        </Checkbox.Group>
        <Switch label="Active" {...form.getInputProps("active", { type: "checkbox" })} />
        <Group justify="flex-end">
          <Button variant="default" onClick={onCancel}>Cancel</Button>
          <Button type="submit" loading={form.submitting}>{webhook ? "Save webhook" : "Create webhook"}</Button>
        </Group>
      </Stack>
    </form>
  );
}

function Deliveries({ webhook }: { webhook: Webhook }) {
  const [status, setStatus] = useState<"pending" | "delivered" | "failed" | null>(null);
  const query = useQuery({
    queryKey: ["deliveries", webhook.id, status],
    queryFn: () => unwrap(api.GET("/api/v1/webhooks/{webhook_id}/deliveries", { params: { path: { webhook_id: webhook.id }, query: { status, limit: 100 } } })),
    refetchInterval: 10_000,
  });
  return (
    <Stack>
      <Select label="Status" clearable placeholder="All" value={status} onChange={(v) => setStatus(v as typeof status)} data={["pending", "delivered", "failed"]} w={200} />
      <QueryView query={query} what="deliveries">
        {(page) => page.items.length === 0 ? <EmptyState title="No deliveries yet">Send a test event to see one here.</EmptyState> : (
          <Table.ScrollContainer minWidth={820}>
            <Table fz="sm" striped aria-label="Deliveries">
              <Table.Thead><Table.Tr><Table.Th>Created</Table.Th><Table.Th>Event</Table.Th><Table.Th>Status</Table.Th><Table.Th>Attempts</Table.Th><Table.Th>Sent to</Table.Th><Table.Th>Last response</Table.Th></Table.Tr></Table.Thead>
              <Table.Tbody>
                {page.items.map((d) => (
                  <Table.Tr key={d.id}>
                    <Table.Td>{formatDateTime(d.created_at)}</Table.Td>
                    <Table.Td><Code>{d.event_type}</Code></Table.Td>
                    <Table.Td><Badge color={d.status === "delivered" ? "green" : d.status === "failed" ? "red" : "yellow"} variant="light">{d.status}</Badge></Table.Td>
                    <Table.Td>{d.attempts}{d.status === "pending" ? ` · next ${formatDateTime(d.next_attempt_at)}` : ""}</Table.Td>
                    <Table.Td maw={260} style={{ overflowWrap: "anywhere" }}>
                      {d.last_url === null ? <Text span size="sm" c="dimmed">not sent yet</Text> : (
                        <>
                          <Text size="sm" ff="monospace">{d.last_url}</Text>
                          {d.last_url !== webhook.url && <Badge color="gray" variant="light" size="xs">earlier URL</Badge>}
                        </>
                      )}
                    </Table.Td>
                    <Table.Td>{d.last_status_code ?? "—"}{d.last_error ? <Text size="xs" c="red">{d.last_error}</Text> : null}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      </QueryView>
    </Stack>
  );
}

export function WebhooksPage() {
  const { canEdit } = useAuth();
  const queryClient = useQueryClient();
  const [offset, setOffset] = useState(0);
  const [editing, setEditing] = useState<Webhook | "new" | null>(null);
  const [created, setCreated] = useState<Schemas["WebhookCreated"] | null>(null);
  const [viewing, setViewing] = useState<Webhook | null>(null);
  const query = useQuery({
    queryKey: ["webhooks", offset],
    queryFn: () => unwrap(api.GET("/api/v1/webhooks", { params: { query: { limit: LIMIT, offset } } })),
  });
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["webhooks"] });
  const test = useMutation({
    mutationFn: (id: string) => unwrap(api.POST("/api/v1/webhooks/{webhook_id}/test", { params: { path: { webhook_id: id } } })),
    onSuccess: (d) => {
      notifySaved(d.status === "delivered" ? `Test delivered (HTTP ${d.last_status_code ?? "?"})` : `Test ${d.status}: ${d.last_error ?? `HTTP ${d.last_status_code ?? "?"}`}`);
      void queryClient.invalidateQueries({ queryKey: ["deliveries", d.webhook_id] });
    },
    onError: notifyFailed,
  });
  const remove = useMutation({
    mutationFn: (id: string) => unwrap(api.DELETE("/api/v1/webhooks/{webhook_id}", { params: { path: { webhook_id: id } } })),
    onSuccess: () => { void refresh(); notifySaved("Webhook deleted"); },
    onError: notifyFailed,
  });
  const close = () => { setEditing(null); setCreated(null); };

  return (
    <>
      <PageHeader title="Webhooks" description="Call events sent to your systems, signed with HMAC-SHA256 and retried until delivered."
        actions={canEdit && <Button leftSection={<IconPlus size={16} />} onClick={() => setEditing("new")}>New webhook</Button>} />
      <Card withBorder p={0}>
        <QueryView query={query} what="webhooks">
          {(page) => page.items.length === 0 ? <EmptyState title="No webhooks yet">Add one to be told when calls start, end or fail.</EmptyState> : (
            <Table.ScrollContainer minWidth={760}>
              <Table striped highlightOnHover>
                <Table.Thead><Table.Tr><Table.Th>URL</Table.Th><Table.Th>Events</Table.Th><Table.Th>Active</Table.Th><Table.Th>Created</Table.Th><Table.Th className="row-actions"><span className="sr-only">Actions</span></Table.Th></Table.Tr></Table.Thead>
                <Table.Tbody>
                  {page.items.map((w) => (
                    <Table.Tr key={w.id}>
                      <Table.Td><Text size="sm" ff="monospace" style={{ wordBreak: "break-all" }}>{w.url}</Text></Table.Td>
                      <Table.Td><Group gap={4}>{w.events.map((e) => <Badge key={e} variant="light" size="sm">{e}</Badge>)}</Group></Table.Td>
                      <Table.Td>{w.active ? <Badge color="green">Active</Badge> : <Badge color="gray">Paused</Badge>}</Table.Td>
                      <Table.Td>{formatDateTime(w.created_at)}</Table.Td>
                      <Table.Td className="row-actions">
                        <Group gap={4} wrap="nowrap" justify="flex-end">
                          <Button size="compact-xs" variant="light" leftSection={<IconList size={14} />} onClick={() => setViewing(w)}>Deliveries</Button>
                          {canEdit && <>
                            <Button size="compact-xs" variant="light" leftSection={<IconSend size={14} />} loading={test.isPending && test.variables === w.id} onClick={() => test.mutate(w.id)}>Test</Button>
                            <EditDeleteActions name={w.url} title="Delete this webhook?" consequence={w.url}
                              onEdit={() => setEditing(w)} onDelete={() => remove.mutate(w.id)} />
                          </>}
                        </Group>
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
      <Modal opened={editing !== null} onClose={close} size="lg" closeOnClickOutside={!created}
        title={created ? "Webhook created" : editing === "new" ? "New webhook" : "Edit webhook"}>
        {created ? <SecretOnce title="Signing secret" secret={created.signing_secret} onDone={close} /> : editing !== null && (
          <WebhookForm webhook={editing === "new" ? undefined : editing} onCancel={close}
            onSaved={(c) => { void refresh(); if (c) setCreated(c); else { notifySaved("Webhook saved"); close(); } }} />
        )}
      </Modal>
      <Drawer opened={viewing !== null} onClose={() => setViewing(null)} position="right" size="xl" title={viewing ? `Deliveries of the webhook now at ${viewing.url}` : ""}>
        {viewing && <Deliveries webhook={viewing} />}
      </Drawer>
    </>
  );
}
