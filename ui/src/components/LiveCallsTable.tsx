/** Calls in progress, each linking to its page, with a clock counting from the answer. */
import { Anchor, Badge, Table, Text } from "@mantine/core";
import { Link } from "react-router";
import { statusColor } from "../lib/calls";
import { formatOffset, label } from "../lib/format";
import { useNow, type LiveRow } from "../lib/liveCall";
import { useAgentNames } from "../lib/queries";

export function LiveCallsTable({ calls }: { calls: LiveRow[] }) {
  const agentNames = useAgentNames();
  const now = useNow(calls.length > 0);
  return (
    <Table.ScrollContainer minWidth={600}>
      <Table highlightOnHover aria-label="Calls in progress">
        <Table.Thead><Table.Tr><Table.Th>Call</Table.Th><Table.Th>Direction</Table.Th><Table.Th>From → To</Table.Th><Table.Th>Agent</Table.Th><Table.Th>Status</Table.Th><Table.Th>Turns</Table.Th><Table.Th>Elapsed</Table.Th></Table.Tr></Table.Thead>
        <Table.Tbody>
          {calls.map((c) => (
            <Table.Tr key={c.id}>
              <Table.Td><Anchor component={Link} to={`/calls/${c.id}`} size="sm" ff="monospace" aria-label={`Live call ${c.from || c.id.slice(0, 8)}`}>{c.id.slice(0, 8)}</Anchor></Table.Td>
              <Table.Td>{c.direction ? label(c.direction) : "—"}</Table.Td>
              <Table.Td><Text size="sm" ff="monospace">{c.from || "—"} → {c.to || "—"}</Text></Table.Td>
              <Table.Td>{c.agentId ? (agentNames.get(c.agentId) ?? "—") : "—"}</Table.Td>
              <Table.Td><Badge color={statusColor(c.status)} variant="light">{label(c.status)}</Badge></Table.Td>
              <Table.Td>{c.turns ?? "—"}</Table.Td>
              <Table.Td>{c.answeredAt === null ? "—" : formatOffset(now - c.answeredAt)}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}
