/** What the priced calls of the analytics period cost: in total, per vendor, agent and day. */
import { SimpleGrid, Table, Text } from "@mantine/core";
import type { Schemas } from "../api/client";
import { formatCost } from "../lib/cost";
import { useAgentNames } from "../lib/queries";
import { Stat } from "./Charts";

function Rows({ label, rows, currency }: { label: string; rows: { key: string; name: string; calls: number; total: number }[]; currency: string }) {
  return (
    <Table fz="sm" withTableBorder aria-label={`Cost per ${label}`}>
      <Table.Thead><Table.Tr><Table.Th>{label.charAt(0).toUpperCase() + label.slice(1)}</Table.Th><Table.Th>Calls</Table.Th><Table.Th>Cost</Table.Th></Table.Tr></Table.Thead>
      <Table.Tbody>
        {rows.map((r) => (
          <Table.Tr key={r.key}><Table.Td>{r.name}</Table.Td><Table.Td>{r.calls}</Table.Td><Table.Td>{formatCost(r.total, currency)}</Table.Td></Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

export function CostAnalytics({ cost }: { cost: Schemas["CostSummary"] }) {
  const agentNames = useAgentNames();
  if (cost.calls === 0) return <Text size="sm" c="dimmed">No priced calls in this period.</Text>;
  return (
    <>
      <SimpleGrid cols={{ base: 2, md: 3 }} mb="md">
        <Stat name="Total cost" value={formatCost(cost.total, cost.currency)} />
        <Stat name="Priced calls" value={String(cost.calls)} />
        <Stat name="Per call" value={formatCost(cost.total / cost.calls, cost.currency)} />
      </SimpleGrid>
      <SimpleGrid cols={{ base: 1, lg: 3 }}>
        <Rows label="vendor" currency={cost.currency}
          rows={cost.per_vendor.map((v) => ({ key: `${v.kind}:${v.vendor}`, name: `${v.vendor} (${v.kind.toUpperCase()})`, calls: v.calls, total: v.total }))} />
        <Rows label="agent" currency={cost.currency}
          rows={cost.per_agent.map((a) => ({ key: a.agent_id ?? "none", name: a.agent_id ? (agentNames.get(a.agent_id) ?? "deleted agent") : "—", calls: a.calls, total: a.total }))} />
        <Rows label="day" currency={cost.currency}
          rows={cost.per_day.map((d) => ({ key: d.day, name: d.day, calls: d.calls, total: d.total }))} />
      </SimpleGrid>
    </>
  );
}
