import { Anchor, Badge, Button, Card, Group, Table, Text } from "@mantine/core";
import { IconPlus } from "@tabler/icons-react";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { api } from "../api/client";
import { unwrap } from "../api/problem";
import { useAuth } from "../auth/AuthContext";
import { PageHeader } from "../components/PageHeader";
import { WebCallPanel } from "../components/WebCallPanel";
import { EmptyState, QueryView } from "../components/PageState";
import { Pager } from "../components/Pager";
import { formatDateTime, label } from "../lib/format";

const LIMIT = 50;

export function AgentsPage() {
  const { canEdit } = useAuth();
  const [offset, setOffset] = useState(0);
  const query = useQuery({
    queryKey: ["agents", offset],
    queryFn: () => unwrap(api.GET("/api/v1/agents", { params: { query: { limit: LIMIT, offset } } })),
  });
  return (
    <>
      <PageHeader
        title="Agents"
        description="Who answers the phone: prompt, voice, providers and call policy."
        actions={canEdit && <Button component={Link} to="/agents/new" leftSection={<IconPlus size={16} />}>New agent</Button>}
      />
      <Card withBorder p={0}>
        <QueryView query={query} what="agents">
          {(page) =>
            page.items.length === 0 ? (
              <EmptyState title="No agents yet">Create an agent to answer or place calls.</EmptyState>
            ) : (
              <Table.ScrollContainer minWidth={700}>
                <Table striped highlightOnHover>
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th>Name</Table.Th>
                      <Table.Th>Language</Table.Th>
                      <Table.Th>STT · LLM · TTS</Table.Th>
                      <Table.Th>Barge-in</Table.Th>
                      <Table.Th>Numbers</Table.Th>
                      <Table.Th>Updated</Table.Th>
                      {canEdit && <Table.Th />}
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {page.items.map((a) => (
                      <Table.Tr key={a.id}>
                        <Table.Td><Anchor component={Link} to={`/agents/${a.id}`} fw={600}>{a.name}</Anchor></Table.Td>
                        <Table.Td>{a.language}</Table.Td>
                        <Table.Td>
                          <Group gap={4}>
                            {[a.stt, a.llm, a.tts].map((c, i) => <Badge key={i} variant="light" color="gray">{c.vendor ?? "—"}</Badge>)}
                          </Group>
                        </Table.Td>
                        <Table.Td>{label(a.barge_in_sensitivity)}</Table.Td>
                        <Table.Td><Text size="sm">{a.inbound_numbers.join(", ") || "—"}</Text></Table.Td>
                        <Table.Td>{formatDateTime(a.updated_at)}</Table.Td>
                        {canEdit && <Table.Td><WebCallPanel agentId={a.id} compact /></Table.Td>}
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              </Table.ScrollContainer>
            )
          }
        </QueryView>
      </Card>
      {query.data && <Pager total={query.data.total} limit={LIMIT} offset={offset} onOffset={setOffset} />}
    </>
  );
}
