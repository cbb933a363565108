/** A finished call's post-call analysis (summary, success, extracted data) and what it cost,
 * per provider. Both are written by the server shortly after the call ends: while a recent
 * call has neither, the call is asked for again until they arrive. */
import { Alert, Badge, Card, Code, Group, SimpleGrid, Stack, Table, Text, Title } from "@mantine/core";
import { useQueryClient } from "@tanstack/react-query";
import { useEffect } from "react";
import type { Schemas } from "../api/client";
import { formatCost } from "../lib/cost";

// The server prices and analyses a call within seconds of its end; past this, nothing is coming
// (a call from before analysis existed, say) and the page stops asking.
const PENDING_FOR_MS = 10 * 60_000;
const REFRESH_MS = 2_000;

type Call = Schemas["CallDetail"];
type Analysis = Schemas["CallAnalysisOut"];
type Cost = Schemas["CallCost"];

function pending(call: Call): boolean {
  if (call.live || call.cost || !call.ended_at) return false;
  return Date.now() - new Date(call.ended_at).getTime() < PENDING_FOR_MS;
}

function SuccessBadge({ analysis }: { analysis: Analysis }) {
  if (analysis.success === true) return <Badge color="green" variant="light">Criteria met</Badge>;
  if (analysis.success === false) return <Badge color="red" variant="light">Criteria not met</Badge>;
  if ((analysis.unavailable ?? []).includes("success")) return <Badge color="gray" variant="light">Not evaluated</Badge>;
  return null;
}

function AnalysisView({ analysis }: { analysis: Analysis }) {
  if (analysis.status === "failed") {
    return (
      <Alert color="red" title="The analysis failed" data-testid="analysis-failed">
        {analysis.error} ({analysis.attempts} {analysis.attempts === 1 ? "attempt" : "attempts"})
      </Alert>
    );
  }
  return (
    <Stack gap="xs">
      <Text size="sm" data-testid="analysis-summary">{analysis.summary}</Text>
      <Group gap="xs">
        <SuccessBadge analysis={analysis} />
        {analysis.success_reason && <Text size="sm">{analysis.success_reason}</Text>}
      </Group>
      {analysis.unavailable_reason && <Text size="xs" c="dimmed">{analysis.unavailable_reason}</Text>}
      {analysis.data && (
        <div>
          <Text size="xs" c="dimmed" tt="uppercase" fw={600}>Extracted data</Text>
          <Code block data-testid="analysis-data">{JSON.stringify(analysis.data, null, 2)}</Code>
        </div>
      )}
      {analysis.data_error && <Text size="sm" c="red">{analysis.data_error}</Text>}
      <Text size="xs" c="dimmed">By {analysis.vendor}{analysis.model ? ` (${analysis.model})` : ""}</Text>
    </Stack>
  );
}

function CostView({ cost }: { cost: Cost }) {
  const items = cost.items ?? [];
  return (
    <Stack gap="xs">
      <Text size="xl" fw={600} data-testid="call-cost">{formatCost(cost.total, cost.currency)}</Text>
      {(cost.unpriced ?? []).length > 0 && (
        <Text size="xs" c="orange">No price is known for {(cost.unpriced ?? []).join(", ")}: set one on the Prices page.</Text>
      )}
      <Table.ScrollContainer minWidth={420}>
        <Table fz="sm" withTableBorder aria-label="Cost per provider">
          <Table.Thead><Table.Tr><Table.Th>Provider</Table.Th><Table.Th>Model</Table.Th><Table.Th>Billed</Table.Th><Table.Th>Cost</Table.Th></Table.Tr></Table.Thead>
          <Table.Tbody>
            {items.map((item) => (
              <Table.Tr key={item.provider}>
                <Table.Td>{item.provider}</Table.Td>
                <Table.Td>{item.model ?? "—"}</Table.Td>
                <Table.Td>{billed(item)}</Table.Td>
                <Table.Td>
                  {item.offline ? <Badge size="xs" variant="light" color="gray">offline</Badge>
                    : item.priced === false ? <Badge size="xs" variant="light" color="orange">no price</Badge>
                      : formatCost(item.amount, cost.currency)}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
    </Stack>
  );
}

function billed(item: Schemas["CostItem"]): string {
  const parts: string[] = [];
  if (item.audio_seconds) parts.push(`${item.audio_seconds.toFixed(1)} s audio`);
  if (item.characters) parts.push(`${item.characters} characters`);
  if (item.input_tokens || item.output_tokens) parts.push(`${item.input_tokens ?? 0} / ${item.output_tokens ?? 0} tokens`);
  return parts.join(", ") || "—";
}

export function CallAnalysis({ call }: { call: Call }) {
  const queryClient = useQueryClient();
  const waiting = pending(call);
  useEffect(() => {
    if (!waiting) return;
    const timer = setInterval(() => void queryClient.invalidateQueries({ queryKey: ["call", call.id] }), REFRESH_MS);
    return () => clearInterval(timer);
  }, [waiting, call.id, queryClient]);

  if (call.live) return null;
  return (
    <SimpleGrid cols={{ base: 1, lg: 2 }}>
      <Card withBorder aria-label="Post-call analysis">
        <Title order={2} size="h5" mb="sm">Post-call analysis</Title>
        {call.analysis ? <AnalysisView analysis={call.analysis} />
          : <Text size="sm" c="dimmed">{waiting ? "Analysing the call…" : "No analysis: the agent's analysis is off, or the caller said nothing."}</Text>}
      </Card>
      <Card withBorder aria-label="Call cost">
        <Title order={2} size="h5" mb="sm">Cost</Title>
        {call.cost ? <CostView cost={call.cost} />
          : <Text size="sm" c="dimmed">{waiting ? "Pricing the call…" : "This call was not priced."}</Text>}
      </Card>
    </SimpleGrid>
  );
}
