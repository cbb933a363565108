import { Card, Grid, Group, Select, SimpleGrid, TextInput, Title } from "@mantine/core";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { api } from "../api/client";
import { unwrap } from "../api/problem";
import { CallsPerDayChart, LatencyChart, OutcomesChart, Stat, UsageTable } from "../components/Charts";
import { CostAnalytics } from "../components/CostAnalytics";
import { PageHeader } from "../components/PageHeader";
import { QueryView } from "../components/PageState";
import { formatMs, fromDateInput, startOfDay, toDateInput } from "../lib/format";
import { useAllAgents } from "../lib/queries";

// A month is the period admins look at first; anything else is two date inputs away.
const DEFAULT_DAYS = 29;

export function AnalyticsPage() {
  const agents = useAllAgents();
  const [since, setSince] = useState(toDateInput(startOfDay(DEFAULT_DAYS)));
  const [until, setUntil] = useState(toDateInput(startOfDay(0)));
  const [agent, setAgent] = useState<string | null>(null);
  const query = useQuery({
    queryKey: ["analytics", since, until, agent],
    queryFn: () => unwrap(api.GET("/api/v1/analytics", {
      params: { query: { since: fromDateInput(since), until: fromDateInput(until, true), agent_id: agent ?? undefined } },
    })),
    placeholderData: keepPreviousData,
  });

  return (
    <>
      <PageHeader title="Analytics" description="Volume, durations, outcomes, latency percentiles and cost per provider." />
      <Card withBorder mb="md" component="section" aria-label="Period and agent">
        <Group grow align="flex-end" wrap="wrap">
          <TextInput type="date" label="From" value={since} onChange={(e) => setSince(e.currentTarget.value)} max={until} />
          <TextInput type="date" label="To" value={until} onChange={(e) => setUntil(e.currentTarget.value)} min={since} />
          <Select label="Agent" placeholder="All agents" clearable searchable value={agent} onChange={setAgent}
            data={(agents.data?.items ?? []).map((a) => ({ value: a.id, label: a.name }))} />
        </Group>
      </Card>
      <QueryView query={query} what="analytics">
        {(a) => {
          const total = a.calls_per_day.reduce((n, d) => n + d.calls, 0);
          const completed = a.calls_per_day.reduce((n, d) => n + d.completed, 0);
          return (
            <Grid>
              <Grid.Col span={12}>
                <Card withBorder>
                  <SimpleGrid cols={{ base: 2, md: 5 }}>
                    <Stat name="Calls" value={String(total)} />
                    <Stat name="Completed" value={String(completed)} hint={total ? `${Math.round((completed / total) * 100)} %` : undefined} />
                    <Stat name="Median duration" value={formatMs(a.duration_ms.p50)} />
                    <Stat name="p90 duration" value={formatMs(a.duration_ms.p90)} />
                    <Stat name="p99 duration" value={formatMs(a.duration_ms.p99)} />
                  </SimpleGrid>
                </Card>
              </Grid.Col>
              <Grid.Col span={{ base: 12, lg: 8 }}>
                <Card withBorder h="100%"><Title order={2} size="h5" mb="sm">Calls per day</Title><CallsPerDayChart days={a.calls_per_day} /></Card>
              </Grid.Col>
              <Grid.Col span={{ base: 12, lg: 4 }}>
                <Card withBorder h="100%"><Title order={2} size="h5" mb="sm">Outcomes</Title><OutcomesChart outcomes={a.outcomes} withoutOutcome={a.without_outcome} /></Card>
              </Grid.Col>
              <Grid.Col span={12}>
                <Card withBorder><Title order={2} size="h5" mb="sm">Latency percentiles per provider</Title><LatencyChart latency={a.latency} /></Card>
              </Grid.Col>
              <Grid.Col span={12}>
                <Card withBorder><Title order={2} size="h5" mb="sm">Usage per provider</Title><UsageTable usage={a.usage} /></Card>
              </Grid.Col>
              <Grid.Col span={12}>
                <Card withBorder><Title order={2} size="h5" mb="sm">Cost</Title><CostAnalytics cost={a.cost} /></Card>
              </Grid.Col>
            </Grid>
          );
        }}
      </QueryView>
    </>
  );
}
