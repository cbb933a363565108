import { useState } from "react";
import { Badge, Button, Card, Code, Group, Modal, Table, Text } from "@mantine/core";
import { IconPlugConnected, IconPlus } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, type Schemas } from "../api/client";
import { errorMessage, unwrap } from "../api/problem";
import { useAuth } from "../auth/AuthContext";
import { PageHeader } from "../components/PageHeader";
import { EmptyState, QueryView } from "../components/PageState";
import { Pager } from "../components/Pager";
import { ProviderForm, type ProviderBody } from "../components/ProviderForm";
import { formatDateTime } from "../lib/format";
import { FailureText } from "../components/FailureText";
import { notifyRefused, notifySaved } from "../lib/forms";
import { useCatalog } from "../lib/queries";
import { EditDeleteActions } from "../components/RowActions";

const LIMIT = 50;
type Provider = Schemas["ProviderOut"];
type Check = { ok: boolean; message: string };

export function ProvidersPage() {
  const { canEdit } = useAuth();
  const queryClient = useQueryClient();
  const catalog = useCatalog();
  const [offset, setOffset] = useState(0);
  const [editing, setEditing] = useState<Provider | "new" | null>(null);
  const [checks, setChecks] = useState<Record<string, Check>>({});
  const query = useQuery({
    queryKey: ["providers", offset],
    queryFn: () => unwrap(api.GET("/api/v1/providers", { params: { query: { limit: LIMIT, offset } } })),
  });
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["providers"] });

  const test = useMutation({
    mutationFn: (id: string) => unwrap(api.POST("/api/v1/providers/{provider_id}/test", { params: { path: { provider_id: id } } })),
    onSuccess: (result, id) => setChecks((c) => ({ ...c, [id]: { ok: result.ok, message: result.ok ? "Credential works" : "Credential refused" } })),
    onError: (error, id) => setChecks((c) => ({ ...c, [id]: { ok: false, message: errorMessage(error) } })),
  });
  const remove = useMutation({
    mutationFn: (id: string) => unwrap(api.DELETE("/api/v1/providers/{provider_id}", { params: { path: { provider_id: id } } })),
    onSuccess: () => { void refresh(); notifySaved("Provider deleted"); },
    // A 409 names the agents still using it.
    onError: (error) => notifyRefused("Provider not deleted", error),
  });

  const save = async (body: ProviderBody) => {
    if (editing && editing !== "new") {
      const { kind: _kind, ...update } = body;
      await unwrap(api.PATCH("/api/v1/providers/{provider_id}", { params: { path: { provider_id: editing.id } }, body: update }));
    } else {
      await unwrap(api.POST("/api/v1/providers", { body }));
    }
    await refresh();
    notifySaved(editing === "new" ? "Provider created" : "Provider saved");
    setEditing(null);
  };
  const vendorName = (p: Provider) => catalog.data?.vendors.find((v) => v.vendor === p.vendor && v.kind === p.kind)?.display_name ?? p.vendor;

  return (
    <>
      <PageHeader
        title="Providers"
        description="Speech-to-text, language model and text-to-speech vendors with their API keys."
        actions={canEdit && <Button leftSection={<IconPlus size={16} />} onClick={() => setEditing("new")}>New provider</Button>}
      />
      <Card withBorder p={0}>
        <QueryView query={query} what="providers">
          {(page) =>
            page.items.length === 0 ? (
              <EmptyState title="No providers yet">Add a vendor's API key here, then choose it in an agent. Offline vendors need none.</EmptyState>
            ) : (
              <Table.ScrollContainer minWidth={760}>
                <Table striped highlightOnHover>
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th>Name</Table.Th><Table.Th>Kind</Table.Th><Table.Th>Vendor</Table.Th><Table.Th>Model</Table.Th>
                      <Table.Th>API key</Table.Th><Table.Th>Credential</Table.Th><Table.Th className="row-actions"><span className="sr-only">Actions</span></Table.Th>
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {page.items.map((p) => {
                      // This session's check, else the last one kept on the provider.
                      const check = checks[p.id] ?? (p.last_test ? { ok: p.last_test.ok, message: p.last_test.ok ? "Credential works" : p.last_test.message ?? "Credential refused" } : undefined);
                      return (
                        <Table.Tr key={p.id}>
                          <Table.Td fw={600}>{p.name}</Table.Td>
                          <Table.Td><Badge variant="light">{p.kind.toUpperCase()}</Badge></Table.Td>
                          <Table.Td>{vendorName(p)}</Table.Td>
                          <Table.Td>{p.model ?? <Text span c="dimmed" size="sm">default</Text>}</Table.Td>
                          <Table.Td>{p.api_key ? <Code>{p.api_key}</Code> : <Text span c="dimmed" size="sm">none</Text>}</Table.Td>
                          <Table.Td>
                            <Group gap="xs" wrap="nowrap">
                              <Button size="compact-xs" variant="light" leftSection={<IconPlugConnected size={14} />}
                                loading={test.isPending && test.variables === p.id} disabled={!canEdit}
                                onClick={() => test.mutate(p.id)}>
                                Test
                              </Button>
                              {check && <Badge color={check.ok ? "green" : "red"} title={check.message}>{check.ok ? "OK" : "Failed"}</Badge>}
                            </Group>
                            {check && !check.ok && <FailureText reason={check.message} size="xs" maw={260} />}
                            {!checks[p.id] && p.last_test && <Text size="xs" c="dimmed">tested {formatDateTime(p.last_test.at)}</Text>}
                          </Table.Td>
                          <Table.Td className="row-actions">
                            {canEdit && (
                              <Group gap={4} wrap="nowrap" justify="flex-end">
                                <EditDeleteActions name={p.name} title={`Delete ${p.name}?`}
                                  consequence="Agents using it must be switched to another provider first."
                                  onEdit={() => setEditing(p)} onDelete={() => remove.mutate(p.id)} />
                              </Group>
                            )}
                          </Table.Td>
                        </Table.Tr>
                      );
                    })}
                  </Table.Tbody>
                </Table>
              </Table.ScrollContainer>
            )
          }
        </QueryView>
      </Card>
      {query.data && <Pager total={query.data.total} limit={LIMIT} offset={offset} onOffset={setOffset} />}
      <Modal opened={editing !== null} onClose={() => setEditing(null)} size="lg"
        title={editing === "new" ? "New provider" : `Edit ${editing?.name ?? ""}`}>
        {editing !== null && (
          <ProviderForm provider={editing === "new" ? undefined : editing} vendors={catalog.data?.vendors ?? []}
            onSubmit={save} onCancel={() => setEditing(null)} />
        )}
      </Modal>
    </>
  );
}
