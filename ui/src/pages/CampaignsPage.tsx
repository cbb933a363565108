/** Campaigns: each one's status and live counts (leads by state, attempts by disposition, dial
 * and answer rates), refreshed every few seconds, with start / pause / resume / cancel.
 * Campaigns and their leads are created over the API (`/api/v1/campaigns`). */
import { Badge, Button, Card, Group, SimpleGrid, Stack, Text } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, type Schemas } from "../api/client";
import { unwrap } from "../api/problem";
import { PageHeader } from "../components/PageHeader";
import { EmptyState, QueryView } from "../components/PageState";

type Campaign = Schemas["CampaignOut"];
type Action = "start" | "pause" | "resume" | "cancel";
// Live enough to watch a campaign move, light enough for many open tabs.
const REFRESH_MS = 3000;
const ACTIONS: Record<string, Action[]> = {
  draft: ["start", "cancel"],
  scheduled: ["pause", "cancel"],
  running: ["pause", "cancel"],
  paused: ["resume", "cancel"],
};
const STATUS_COLOR: Record<string, string> = {
  running: "green", scheduled: "blue", paused: "yellow", completed: "gray", cancelled: "red", draft: "gray",
};

function Counts({ title, counts }: { title: string; counts: Record<string, number> }) {
  const entries = Object.entries(counts).sort(([a], [b]) => a.localeCompare(b));
  return (
    <Stack gap={2}>
      <Text size="xs" c="dimmed">{title}</Text>
      {entries.length === 0 ? <Text size="sm">—</Text> : entries.map(([k, n]) => (
        <Text size="sm" key={k}>{k.replaceAll("_", " ")}: <b>{n}</b></Text>
      ))}
    </Stack>
  );
}

function CampaignCard({ campaign }: { campaign: Campaign }) {
  const client = useQueryClient();
  const live = campaign.status !== "completed" && campaign.status !== "cancelled";
  const progress = useQuery({
    queryKey: ["campaign-progress", campaign.id],
    queryFn: () => unwrap(api.GET("/api/v1/campaigns/{campaign_id}/progress", { params: { path: { campaign_id: campaign.id } } })),
    refetchInterval: live ? REFRESH_MS : false,
  });
  const act = useMutation({
    mutationFn: (action: Action) =>
      unwrap(api.POST(`/api/v1/campaigns/{campaign_id}/${action}`, { params: { path: { campaign_id: campaign.id } } })),
    onSuccess: () => client.invalidateQueries({ queryKey: ["campaigns"] }),
  });
  return (
    <Card withBorder component="article" aria-label={campaign.name}>
      <Group justify="space-between" mb="sm">
        <Group gap="xs">
          <Text fw={600}>{campaign.name}</Text>
          <Badge color={STATUS_COLOR[campaign.status] ?? "gray"} variant="light">{campaign.status}</Badge>
        </Group>
        <Group gap="xs">
          {(ACTIONS[campaign.status] ?? []).map((action) => (
            <Button key={action} size="xs" variant="light" loading={act.isPending} onClick={() => act.mutate(action)}>
              {action.charAt(0).toUpperCase() + action.slice(1)}
            </Button>
          ))}
        </Group>
      </Group>
      <QueryView query={progress} what="the campaign's progress">
        {(p) => (
          <SimpleGrid cols={{ base: 1, sm: 3 }}>
            <Counts title={`Leads (${p.total_leads})`} counts={p.leads} />
            <Counts title={`Attempts (${p.attempts})`} counts={p.dispositions} />
            <Stack gap={2}>
              <Text size="xs" c="dimmed">Rates</Text>
              <Text size="sm">Dialled in the last minute: <b>{p.dial_rate_per_minute}</b></Text>
              <Text size="sm">Answered: <b>{p.answer_rate === null ? "—" : `${Math.round(p.answer_rate * 100)}%`}</b></Text>
            </Stack>
          </SimpleGrid>
        )}
      </QueryView>
    </Card>
  );
}

export function CampaignsPage() {
  const campaigns = useQuery({
    queryKey: ["campaigns"],
    queryFn: () => unwrap(api.GET("/api/v1/campaigns", { params: { query: { limit: 50 } } })),
    refetchInterval: REFRESH_MS,
  });
  return (
    <>
      <PageHeader title="Campaigns" description="Outbound campaigns and how far each has got, live." />
      <QueryView query={campaigns} what="the campaigns">
        {(page) => page.items.length === 0 ? (
          <EmptyState title="No campaigns yet">Create one with POST /api/v1/campaigns, then add its leads.</EmptyState>
        ) : (
          <Stack>{page.items.map((c) => <CampaignCard key={c.id} campaign={c} />)}</Stack>
        )}
      </QueryView>
    </>
  );
}
