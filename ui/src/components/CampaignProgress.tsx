/** A campaign's live progress (leads by state, attempts by disposition, dial and answer rates)
 * and its status buttons, as the list and the detail page both show them. */
import { Button, Group, SimpleGrid, Stack, Text } from "@mantine/core";
import { modals } from "@mantine/modals";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../api/client";
import { unwrap } from "../api/problem";
import { useAuth } from "../auth/AuthContext";
import { ACTIONS, dispositionLabel, type Action, type Campaign } from "../lib/campaigns";
import { formatCost } from "../lib/cost";
import { notifyRefused } from "../lib/forms";
import { QueryView } from "./PageState";

// Live enough to watch a campaign move, light enough for many open tabs.
export const CAMPAIGN_REFRESH_MS = 3000;

export function isLive(campaign: Campaign): boolean {
  return campaign.status !== "completed" && campaign.status !== "cancelled";
}

function Counts({ title, counts }: { title: string; counts: Record<string, number> }) {
  const entries = Object.entries(counts).sort(([a], [b]) => a.localeCompare(b));
  return (
    <Stack gap={2}>
      <Text size="xs" c="dimmed">{title}</Text>
      {entries.length === 0 ? <Text size="sm">—</Text> : entries.map(([k, n]) => (
        <Text size="sm" key={k}>{dispositionLabel(k)}: <b>{n}</b></Text>
      ))}
    </Stack>
  );
}

export function CampaignProgress({ campaign }: { campaign: Campaign }) {
  const progress = useQuery({
    queryKey: ["campaign-progress", campaign.id],
    queryFn: () => unwrap(api.GET("/api/v1/campaigns/{campaign_id}/progress", { params: { path: { campaign_id: campaign.id } } })),
    refetchInterval: isLive(campaign) ? CAMPAIGN_REFRESH_MS : false,
  });
  return (
    <QueryView query={progress} what="the campaign's progress">
      {(p) => (
        <SimpleGrid cols={{ base: 1, sm: 3 }}>
          <Counts title={`Leads (${p.total_leads})`} counts={p.leads} />
          <Counts title={`Attempts (${p.attempts})`} counts={p.dispositions} />
          <Stack gap={2}>
            <Text size="xs" c="dimmed">Rates</Text>
            <Text size="sm">Dialled in the last minute: <b>{p.dial_rate_per_minute}</b></Text>
            <Text size="sm">Answered: <b>{p.answer_rate === null ? "—" : `${Math.round(p.answer_rate * 100)}%`}</b></Text>
            <Text size="sm">Cost so far: <b>{formatCost(p.cost.total, p.cost.currency)}</b></Text>
            {p.cost.pending_calls > 0 && <Text size="xs" c="dimmed">Ended calls still to be priced: {p.cost.pending_calls}</Text>}
            {p.cost.calls_with_unpriced_usage > 0 && (
              <Text size="xs" c="dimmed">Calls that used a provider with no price: {p.cost.calls_with_unpriced_usage}</Text>
            )}
          </Stack>
        </SimpleGrid>
      )}
    </QueryView>
  );
}

/** Start, pause, resume or cancel, as the campaign's status allows; for those who may edit. */
export function CampaignActions({ campaign }: { campaign: Campaign }) {
  const client = useQueryClient();
  const { canEdit } = useAuth();
  const act = useMutation({
    mutationFn: (action: Action) =>
      unwrap(api.POST(`/api/v1/campaigns/{campaign_id}/${action}`, { params: { path: { campaign_id: campaign.id } } })),
    onSuccess: () => Promise.all([
      client.invalidateQueries({ queryKey: ["campaigns"] }),
      client.invalidateQueries({ queryKey: ["campaign", campaign.id] }),
      client.invalidateQueries({ queryKey: ["campaign-progress", campaign.id] }),
    ]),
    onError: (error, action) => notifyRefused(`Could not ${action} ${campaign.name}`, error),
  });
  if (!canEdit) return null;
  return (
    <Group gap="xs">
      {(ACTIONS[campaign.status] ?? []).map((action) => (
        <Button key={action} size="xs" variant="light" color={action === "cancel" ? "red" : undefined}
          loading={act.isPending && act.variables === action} disabled={act.isPending} onClick={() => action === "cancel"
            ? modals.openConfirmModal({
              title: `Cancel ${campaign.name}?`,
              children: <Text size="sm">Leads not called yet are cancelled and the campaign cannot be started again. Calls already under way finish.</Text>,
              labels: { confirm: "Cancel campaign", cancel: "Keep it" }, confirmProps: { color: "red" },
              onConfirm: () => act.mutate(action),
            })
            : act.mutate(action)}>
          {action.charAt(0).toUpperCase() + action.slice(1)}
        </Button>
      ))}
    </Group>
  );
}
