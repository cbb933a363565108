import { Card, Grid, SimpleGrid, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { api } from "../api/client";
import { unwrap } from "../api/problem";
import { LatencyChart, OutcomesChart, Stat } from "../components/Charts";
import { PageHeader } from "../components/PageHeader";
import { EmptyState, QueryView } from "../components/PageState";
import { HealthPanel } from "../components/HealthPanel";
import { LiveCallsTable } from "../components/LiveCallsTable";
import { formatMs, startOfDay } from "../lib/format";
import { useLiveCalls } from "../lib/liveCall";

const TODAY_REFRESH_MS = 30_000;

export function DashboardPage() {
  const live = useLiveCalls();
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
                // Inbound calls get their record when they end (outbound ones when queued),
                // so the ones in progress are not in today's figures yet.
                const unrecorded = live.data?.filter((c) => c.direction === "inbound").length ?? 0;
                const calls = a.calls_per_day.reduce((n, d) => n + d.calls, 0) + unrecorded;
                const completed = a.calls_per_day.reduce((n, d) => n + d.completed, 0);
                const turn = a.latency.find((l) => l.stage === "turn_total" || l.stage === "turn");
                return (
                  <SimpleGrid cols={{ base: 2, md: 4 }}>
                    <Stat name="Live calls" value={live.data ? String(live.data.length) : "…"} />
                    <Stat name="Calls today" value={String(calls)} hint={`${completed} completed${live.data?.length ? `, ${live.data.length} in progress` : ""}`} />
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
                  <LiveCallsTable calls={calls} />
                )
              }
            </QueryView>
          </Card>
        </Grid.Col>
        <Grid.Col span={12}>
          <HealthPanel />
        </Grid.Col>
        {today.data && (
          <>
            <Grid.Col span={{ base: 12, lg: 5 }}>
              <Card withBorder h="100%"><Title order={2} size="h5" mb="sm">Today's outcomes</Title><OutcomesChart outcomes={today.data.outcomes} withoutOutcome={today.data.without_outcome} /></Card>
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
