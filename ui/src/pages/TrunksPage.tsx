import { Fragment, useState } from "react";
import { Badge, Button, Card, Group, Modal, Stack, Table, Text } from "@mantine/core";
import { IconPlus } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, type Schemas } from "../api/client";
import { unwrap } from "../api/problem";
import { useAuth } from "../auth/AuthContext";
import { PageHeader } from "../components/PageHeader";
import { EmptyState, QueryView } from "../components/PageState";
import { Pager } from "../components/Pager";
import { TrunkForm, type TrunkBody } from "../components/TrunkForm";
import { TrunkLiveStatus, TrunkRegistration } from "../components/TrunkLiveStatus";
import { TwilioSection } from "../components/TwilioSection";
import { notifyFailed } from "../lib/forms";
import { notifySavedWithReload, savedNotice } from "../lib/reload";
import { numbersChanged, useAllAgents } from "../lib/queries";
import { EditDeleteActions } from "../components/RowActions";

const LIMIT = 50;
// Trunks change outside this page (other admins, the CLI); poll to keep the list current.
const REFRESH_MS = 15_000;
type Trunk = Schemas["TrunkOut"];
type Reload = Schemas["ReloadStatus"];

function ReloadBadge({ reload }: { reload: Reload | null | undefined }) {
  if (!reload) return <Text span size="sm" c="dimmed">—</Text>;
  if (reload.ok) return <Badge color="green" variant="light">Applied</Badge>;
  return <Badge color="orange" variant="light">Not in use</Badge>;
}

export function TrunksPage() {
  const { canEdit } = useAuth();
  const queryClient = useQueryClient();
  const agents = useAllAgents();
  const [offset, setOffset] = useState(0);
  const [editing, setEditing] = useState<Trunk | "new" | null>(null);
  // Provisioning outcome of this session's last change to each trunk.
  const [reloads, setReloads] = useState<Record<string, Reload | null | undefined>>({});
  const query = useQuery({
    queryKey: ["sip-trunks", offset],
    queryFn: () => unwrap(api.GET("/api/v1/sip-trunks", { params: { query: { limit: LIMIT, offset } } })),
    refetchInterval: REFRESH_MS,
  });
  // A trunk's inbound routes are agents' numbers, which the Twilio list below shows too.
  const refresh = () => numbersChanged(queryClient);
  const remove = useMutation({
    mutationFn: (id: string) => unwrap(api.DELETE("/api/v1/sip-trunks/{trunk_id}", { params: { path: { trunk_id: id } } })),
    onSuccess: (result) => {
      void refresh();
      notifySavedWithReload("Trunk deleted", result.reload);
    },
    onError: notifyFailed,
  });

  const save = async (body: TrunkBody) => {
    const saved = editing && editing !== "new"
      ? await unwrap(api.PATCH("/api/v1/sip-trunks/{trunk_id}", { params: { path: { trunk_id: editing.id } }, body }))
      : await unwrap(api.POST("/api/v1/sip-trunks", { body }));
    setReloads((r) => ({ ...r, [saved.id]: saved.reload }));
    await refresh();
    notifySavedWithReload(editing === "new" ? "Trunk created" : "Trunk saved", saved.reload);
    setEditing(null);
  };
  const agentName = new Map((agents.data?.items ?? []).map((a) => [a.id, a.name]));

  return (
    <>
      <PageHeader
        title="SIP trunks"
        description="Carrier connections provisioned into Asterisk, and which agent answers each number."
        actions={canEdit && <Button leftSection={<IconPlus size={16} />} onClick={() => setEditing("new")}>New trunk</Button>}
      />
      <Card withBorder p={0}>
        <QueryView query={query} what="SIP trunks">
          {(page) =>
            page.items.length === 0 ? (
              <EmptyState title="No SIP trunks yet">Add your carrier's trunk to take and place phone calls.</EmptyState>
            ) : (
              <Table.ScrollContainer minWidth={980}>
                <Table striped highlightOnHover>
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th>Name</Table.Th><Table.Th>Kind · registration</Table.Th><Table.Th>Host</Table.Th><Table.Th>Codecs</Table.Th>
                      <Table.Th>Limits</Table.Th><Table.Th>Inbound numbers</Table.Th><Table.Th>Endpoint</Table.Th><Table.Th>Provisioning</Table.Th>
                      <Table.Th className="row-actions"><span className="sr-only">Actions</span></Table.Th>
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {page.items.map((t) => { const reload = reloads[t.id] ?? t.reload; return (
                      <Fragment key={t.id}><Table.Tr>
                        <Table.Td fw={600}>{t.name}</Table.Td>
                        <Table.Td>
                          <Stack gap={4} align="flex-start">
                            <Badge variant="light" color={t.kind === "ip" ? "grape" : "blue"}>{t.kind === "ip" ? "IP-based" : "Registration"}</Badge>
                            {t.kind !== "ip" && <TrunkRegistration trunkId={t.id} />}
                          </Stack>
                        </Table.Td>
                        <Table.Td><Text size="sm" ff="monospace">{t.transport}://{t.host}:{t.port}</Text></Table.Td>
                        <Table.Td>{t.codecs.join(", ")}</Table.Td>
                        <Table.Td><Text size="sm">{t.max_calls} calls · {t.max_cps}/s</Text></Table.Td>
                        <Table.Td>
                          {t.inbound_routes.length === 0 ? <Text span c="dimmed" size="sm">none</Text> :
                            t.inbound_routes.map((r) => <Text key={r.did} size="sm">{r.did} → {agentName.get(r.agent_id) ?? "unknown agent"}</Text>)}
                        </Table.Td>
                        <Table.Td><TrunkLiveStatus trunkId={t.id} /></Table.Td>
                        <Table.Td><ReloadBadge reload={reload} /></Table.Td>
                        <Table.Td className="row-actions">
                          {canEdit && (
                            <Group gap={4} wrap="nowrap" justify="flex-end">
                              <EditDeleteActions name={t.name} title={`Delete ${t.name}?`}
                                consequence="Asterisk stops using this trunk; its numbers are no longer answered."
                                onEdit={() => setEditing(t)} onDelete={() => remove.mutate(t.id)} />
                            </Group>
                          )}
                        </Table.Td>
                      </Table.Tr>
                      {reload && !reload.ok && (
                        // The cause in words under its trunk, across the table: a narrow cell would wrap it word by word.
                        <Table.Tr><Table.Td colSpan={9}><Text size="sm" c="orange">Not in use: {savedNotice("", reload).message}</Text></Table.Td></Table.Tr>
                      )}
                      </Fragment>
                    );})}
                  </Table.Tbody>
                </Table>
              </Table.ScrollContainer>
            )
          }
        </QueryView>
      </Card>
      {query.data && <Pager total={query.data.total} limit={LIMIT} offset={offset} onOffset={setOffset} />}
      <TwilioSection />
      <Modal opened={editing !== null} onClose={() => setEditing(null)} size="xl" title={editing === "new" ? "New SIP trunk" : `Edit ${editing?.name ?? ""}`}>
        {editing !== null && (
          <TrunkForm trunk={editing === "new" ? undefined : editing} agents={agents.data?.items ?? []} onSubmit={save} onCancel={() => setEditing(null)} />
        )}
      </Modal>
    </>
  );
}
