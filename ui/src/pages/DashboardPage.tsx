import { Anchor, Badge, Card, Grid, SimpleGrid, Table, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { api } from "../api/client";
import { unwrap } from "../api/problem";
import { LatencyChart, OutcomesChart, Stat } from "../components/Charts";
import { PageHeader } from "../components/PageHeader";
import { EmptyState, QueryView } from "../components/PageState";
import { statusColor } from "../lib/calls";
import { formatMs, startOfDay } from "../lib/format";
import { useAgentNames } from "../lib/queries";

// Live calls change by the second; every few seconds is as fresh as a person can read.
const LIVE_REFRESH_MS = 5_000;
const TODAY_REFRESH_MS = 30_000;

/** A call in progress as its controller describes it in Redis (fields vary by stage). */
interface LiveRow {
  id: string;
  status: string;
  direction: string;
  from: string;
  to: string;
  agentId: string | null;
  turns: number | null;
  elapsedMs: number | null;
}

function text(v: unknown): string {
  return typeof v === "string" ? v : "";
}

function liveRow(id: string, state: Record<string, unknown>): LiveRow {
  return {
    id,
    status: text(state.status) || text(state.state) || "live",
    direction: text(state.direction),
    from: text(state.from_number),
    to: text(state.to_number),
    agentId: text(state.agent_id) || null,
    turns: typeof state.turns === "number" ? state.turns : null,
    elapsedMs: typeof state.elapsed_ms === "number" ? state.elapsed_ms : null,
  };
}

function useLiveCalls() {
  return useQuery({
    queryKey: ["calls", "live"],
    queryFn: async () => (await unwrap(api.GET("/api/v1/calls/live"))).items.map((c) => liveRow(c.id, c.state)),
    refetchInterval: LIVE_REFRESH_MS,
  });
}

export function DashboardPage() {
  const live = useLiveCalls();
  const agentNames = useAgentNames();
  const today = useQuery({
    queryKey: ["analytics", "today"],
    queryFn: () => unwrap(api.GET("/api/v1/analytics", { params: { query: { since: startOfDay(0).toISOString() } } })),
    refetchInterval: TODAY_REFRESH_MS,
  });

  return (
    <>
      <PageHeader title="Dashboard" description="Calls in progress and today at a glance." />
      <Grid>
        <Grid.Col span={12}>
          <Card withBorder>
            <QueryView query={today} what="today's figures">
              {(a) => {
                const calls = a.calls_per_day.reduce((n, d) => n + d.calls, 0);
                const completed = a.calls_per_day.reduce((n, d) => n + d.completed, 0);
                const turn = a.latency.find((l) => l.stage === "turn_total" || l.stage === "turn");
                return (
                  <SimpleGrid cols={{ base: 2, md: 4 }}>
                    <Stat name="Live calls" value={live.data ? String(live.data.length) : "…"} />
                    <Stat name="Calls today" value={String(calls)} hint={`${completed} completed`} />
                    <Stat name="Median duration" value={formatMs(a.duration_ms.p50)} />
                    <Stat name="Turn latency p50" value={formatMs(turn?.latency_ms.p50)} hint={turn ? `p95 ${formatMs(turn.latency_ms.p95)}` : "no turns yet"} />
                  </SimpleGrid>
                );
              }}
            </QueryView>
          </Card>
        </Grid.Col>
        <Grid.Col span={12}>
          <Card withBorder p={0}>
            <Title order={2} size="h5" p="md" pb={0}>Live calls</Title>
            <QueryView query={live} what="live calls">
              {(calls) =>
                calls.length === 0 ? <EmptyState title="No calls in progress" /> : (
                  <Table.ScrollContainer minWidth={600}>
                    <Table highlightOnHover>
                      <Table.Thead><Table.Tr><Table.Th>Call</Table.Th><Table.Th>Direction</Table.Th><Table.Th>From → To</Table.Th><Table.Th>Agent</Table.Th><Table.Th>Status</Table.Th><Table.Th>Turns</Table.Th><Table.Th>Elapsed</Table.Th></Table.Tr></Table.Thead>
                      <Table.Tbody>
                        {calls.map((c) => (
                          <Table.Tr key={c.id}>
                            <Table.Td><Anchor component={Link} to={`/calls/${c.id}`} size="sm" ff="monospace">{c.id.slice(0, 8)}</Anchor></Table.Td>
                            <Table.Td>{c.direction || "—"}</Table.Td>
                            <Table.Td><Text size="sm" ff="monospace">{c.from || "—"} → {c.to || "—"}</Text></Table.Td>
                            <Table.Td>{c.agentId ? (agentNames.get(c.agentId) ?? "—") : "—"}</Table.Td>
                            <Table.Td><Badge color={statusColor(c.status)} variant="light">{c.status}</Badge></Table.Td>
                            <Table.Td>{c.turns ?? "—"}</Table.Td>
                            <Table.Td>{formatMs(c.elapsedMs)}</Table.Td>
                          </Table.Tr>
                        ))}
                      </Table.Tbody>
                    </Table>
                  </Table.ScrollContainer>
                )
              }
            </QueryView>
          </Card>
        </Grid.Col>
        {today.data && (
          <>
            <Grid.Col span={{ base: 12, lg: 5 }}>
              <Card withBorder h="100%"><Title order={2} size="h5" mb="sm">Today's outcomes</Title><OutcomesChart outcomes={today.data.outcomes} /></Card>
            </Grid.Col>
            <Grid.Col span={{ base: 12, lg: 7 }}>
              <Card withBorder h="100%"><Title order={2} size="h5" mb="sm">Today's latency</Title><LatencyChart latency={today.data.latency} /></Card>
            </Grid.Col>
          </>
        )}
      </Grid>
    </>
  );
}
