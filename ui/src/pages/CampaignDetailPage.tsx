/** One campaign: live progress, its settings (editable while it is not calling), its leads a
 * page at a time with every attempt linked to its call, leads imported from CSV with a report
 * of each bad row, and its results as CSV. */
import { useState } from "react";
import { Anchor, Badge, Button, Card, Group, Modal, Select, SimpleGrid, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { IconDownload, IconEdit } from "@tabler/icons-react";
import { keepPreviousData, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useParams } from "react-router";
import { api, downloadFile } from "../api/client";
import { unwrap } from "../api/problem";
import { useAuth } from "../auth/AuthContext";
import { CampaignForm } from "../components/CampaignForm";
import { CAMPAIGN_REFRESH_MS, CampaignActions, CampaignProgress, isLive } from "../components/CampaignProgress";
import { CsvImport } from "../components/CsvImport";
import { PageHeader } from "../components/PageHeader";
import { EmptyState, Loading, QueryView } from "../components/PageState";
import { Pager } from "../components/Pager";
import {
  DISPOSITIONS, EDITABLE, LEAD_STATES, STATUS_COLOR, dispositionLabel, type Campaign, type CampaignBody,
} from "../lib/campaigns";
import { formatDateTime, label } from "../lib/format";
import { notifyRefused, notifySaved } from "../lib/forms";
import { useAgentNames, useAllAgents, useAllTrunks } from "../lib/queries";

const LEADS_LIMIT = 25;
// The lead list is a longer read than the counts above it: refreshed less often.
const LEADS_REFRESH_MS = 15_000;
const DAY_NAMES = ["", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

function Setting({ name, children }: { name: string; children: React.ReactNode }) {
  return (
    <Stack gap={0}>
      <Text size="xs" c="dimmed">{name}</Text>
      <Text size="sm">{children}</Text>
    </Stack>
  );
}

function Settings({ campaign }: { campaign: Campaign }) {
  const agents = useAgentNames();
  const trunks = useAllTrunks();
  const trunk = trunks.data?.items.find((t) => t.id === campaign.trunk_id);
  const window = campaign.calling_window as { days?: number[]; start?: string; end?: string; holidays?: string | null };
  const rules = Object.entries(campaign.retry_rules as Record<string, { retries: number; after_s: number }>);
  return (
    <SimpleGrid cols={{ base: 1, xs: 2, md: 4 }} spacing="sm">
      <Setting name="Agent">{agents.get(campaign.agent_id) ?? "—"}</Setting>
      <Setting name="Calls through">{campaign.twilio ? "Twilio" : `SIP trunk ${trunk?.name ?? ""}`}</Setting>
      <Setting name="Pace">{campaign.max_concurrency} at once · {campaign.calls_per_second}/s</Setting>
      <Setting name="Caller ID">{campaign.caller_ids.length === 0 ? "The trunk's own" : campaign.caller_ids.join(", ")}</Setting>
      <Setting name="Calling window">
        {(window.days ?? []).map((d) => DAY_NAMES[d]).join(" ")} {window.start}–{window.end}
        {window.holidays ? ` · no ${window.holidays} holidays` : ""} · default {campaign.default_timezone}
      </Setting>
      <Setting name="Retries">
        {rules.length === 0 ? "None" : rules.map(([d, r]) => `${dispositionLabel(d)} ×${r.retries} after ${Math.round(r.after_s / 60)} min`).join("; ")}
      </Setting>
      <Setting name="Starts">{campaign.start_at ? formatDateTime(campaign.start_at) : "When started"}</Setting>
      <Setting name="Started · completed">{formatDateTime(campaign.started_at)} · {formatDateTime(campaign.completed_at)}</Setting>
    </SimpleGrid>
  );
}

/** When a pending lead is called next: a time already past means as soon as its window is open
 * and the campaign's caps allow (a new lead's is the far past). */
function nextAttempt(lead: { state: string; next_attempt_at: string }): string {
  if (lead.state !== "pending") return "—";
  return new Date(lead.next_attempt_at) <= new Date() ? "Due" : formatDateTime(lead.next_attempt_at);
}

function Leads({ campaign }: { campaign: Campaign }) {
  const [state, setState] = useState<string | null>(null);
  const [disposition, setDisposition] = useState<string | null>(null);
  const [offset, setOffset] = useState(0);
  const query = {
    limit: LEADS_LIMIT, offset,
    state: (state ?? undefined) as (typeof LEAD_STATES)[number] | undefined,
    disposition: (disposition ?? undefined) as (typeof DISPOSITIONS)[number] | undefined,
  };
  const leads = useQuery({
    queryKey: ["campaign-leads", campaign.id, query],
    queryFn: () => unwrap(api.GET("/api/v1/campaigns/{campaign_id}/leads", { params: { path: { campaign_id: campaign.id }, query } })),
    refetchInterval: isLive(campaign) ? LEADS_REFRESH_MS : false,
    placeholderData: keepPreviousData,
  });
  const filter = (set: (v: string | null) => void) => (v: string | null) => { set(v); setOffset(0); };
  return (
    <Stack gap="sm">
      <Group gap="sm" align="flex-end">
        <Select label="State" placeholder="Any state" clearable w={180} value={state} onChange={filter(setState)}
          data={LEAD_STATES.map((s) => ({ value: s, label: label(s) }))} />
        <Select label="Last outcome" placeholder="Any outcome" clearable w={240} value={disposition} onChange={filter(setDisposition)}
          data={DISPOSITIONS.map((d) => ({ value: d, label: dispositionLabel(d) }))} />
      </Group>
      <QueryView query={leads} what="the leads">
        {(page) => page.items.length === 0 ? (
          <EmptyState title={state || disposition ? "No lead matches" : "No leads yet"}>
            {state || disposition ? "Clear a filter to see more." : "Import them below, from a CSV file or pasted text."}
          </EmptyState>
        ) : (
          <>
            <Table.ScrollContainer minWidth={720}>
              <Table striped aria-label="Leads">
                <Table.Thead>
                  <Table.Tr><Table.Th>Number</Table.Th><Table.Th>State</Table.Th><Table.Th>Attempts</Table.Th><Table.Th>Next attempt</Table.Th><Table.Th>Variables</Table.Th></Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {page.items.map((lead) => (
                    <Table.Tr key={lead.id}>
                      <Table.Td><Text size="sm" ff="monospace">{lead.number}</Text><Text size="xs" c="dimmed">{lead.timezone}</Text></Table.Td>
                      <Table.Td><Badge variant="light" color={lead.state === "reached" ? "green" : lead.state === "pending" ? "blue" : "gray"}>{label(lead.state)}</Badge></Table.Td>
                      <Table.Td>
                        {lead.history.length === 0 ? <Text size="sm" c="dimmed">Not called yet</Text> : (
                          <Stack gap={2}>
                            {lead.history.map((a) => (
                              <Anchor key={a.call_id} component={Link} to={`/calls/${a.call_id}`} size="sm">
                                #{a.attempt} {a.disposition ? dispositionLabel(a.disposition) : "In progress"} · {formatDateTime(a.dialled_at)}
                              </Anchor>
                            ))}
                          </Stack>
                        )}
                      </Table.Td>
                      <Table.Td><Text size="sm">{nextAttempt(lead)}</Text></Table.Td>
                      <Table.Td><Text size="xs" ff="monospace">{Object.entries(lead.variables).map(([k, v]) => `${k}=${v}`).join(" ") || "—"}</Text></Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
            <Pager total={page.total} limit={LEADS_LIMIT} offset={offset} onOffset={setOffset} />
          </>
        )}
      </QueryView>
    </Stack>
  );
}

function ImportLeads({ campaign }: { campaign: Campaign }) {
  const queryClient = useQueryClient();
  const [region, setRegion] = useState("");
  const importCsv = async (csv: string) => {
    const body = { csv, region: region.trim() ? region.trim().toUpperCase() : null };
    const result = await unwrap(api.POST("/api/v1/campaigns/{campaign_id}/leads/import", { params: { path: { campaign_id: campaign.id } }, body }));
    await Promise.all([
      queryClient.invalidateQueries({ queryKey: ["campaign-leads", campaign.id] }),
      queryClient.invalidateQueries({ queryKey: ["campaign-progress", campaign.id] }),
    ]);
    return `${result.added} lead${result.added === 1 ? "" : "s"} added${result.duplicates ? `, ${result.duplicates} already in the campaign` : ""}.`;
  };
  return (
    <CsvImport label="Import leads" onImport={importCsv}
      hint="A header row naming a number column, optionally timezone; every other column is a variable for the agent's prompt."
      extra={<TextInput label="Country of numbers written without +" placeholder="e.g. US" maxLength={2} w={{ base: "100%", sm: 300 }}
        description="Two-letter code; empty: every number needs its +country code" value={region} onChange={(e) => setRegion(e.currentTarget.value)} />} />
  );
}

export function CampaignDetailPage() {
  const { campaignId = "" } = useParams();
  const { canEdit } = useAuth();
  const queryClient = useQueryClient();
  const [editing, setEditing] = useState(false);
  const campaign = useQuery({
    queryKey: ["campaign", campaignId],
    queryFn: () => unwrap(api.GET("/api/v1/campaigns/{campaign_id}", { params: { path: { campaign_id: campaignId } } })),
    refetchInterval: (q) => (q.state.data && isLive(q.state.data) ? CAMPAIGN_REFRESH_MS : false),
  });
  const agents = useAllAgents();
  const trunks = useAllTrunks(editing);
  const save = async (body: CampaignBody) => {
    const saved = await unwrap(api.PUT("/api/v1/campaigns/{campaign_id}", { params: { path: { campaign_id: campaignId } }, body }));
    queryClient.setQueryData(["campaign", campaignId], saved);
    await queryClient.invalidateQueries({ queryKey: ["campaigns"] });
    notifySaved("Campaign saved");
    setEditing(false);
  };
  const download = async (c: Campaign) => {
    try {
      await downloadFile(`/api/v1/campaigns/${c.id}/results`, `campaign-${c.id}.csv`);
    } catch (error) {
      notifyRefused("Download failed", error);
    }
  };
  const name = campaign.data?.name ?? "Campaign";
  return (
    <>
      <PageHeader title={name} description="Progress, leads and results of one campaign."
        actions={campaign.data && (
          <>
            <Badge size="lg" color={STATUS_COLOR[campaign.data.status] ?? "gray"} variant="light">{campaign.data.status}</Badge>
            <CampaignActions campaign={campaign.data} />
            {canEdit && EDITABLE.has(campaign.data.status) && (
              <Button size="xs" variant="default" leftSection={<IconEdit size={14} />} onClick={() => setEditing(true)}>Edit</Button>
            )}
            <Button size="xs" variant="default" leftSection={<IconDownload size={14} />} onClick={() => void download(campaign.data!)}>Results CSV</Button>
          </>
        )} />
      <Anchor component={Link} to="/campaigns" size="sm">← All campaigns</Anchor>
      <QueryView query={campaign} what="the campaign">
        {(c) => (
          <Stack mt="sm">
            <Card withBorder><Title order={2} size="h4" mb="sm">Progress</Title><CampaignProgress campaign={c} /></Card>
            <Card withBorder>
              <Title order={2} size="h4" mb="sm">Settings</Title>
              <Settings campaign={c} />
              {canEdit && c.status === "running" && <Text size="xs" c="dimmed" mt="sm">Pause the campaign to change its settings.</Text>}
            </Card>
            <Card withBorder><Title order={2} size="h4" mb="sm">Leads</Title><Leads campaign={c} /></Card>
            {canEdit && isLive(c) && (
              <Card withBorder><Title order={2} size="h4" mb="sm">Import leads</Title><ImportLeads campaign={c} /></Card>
            )}
            <Modal opened={editing} onClose={() => setEditing(false)} size="xl" title={`Edit ${c.name}`}>
              {agents.data && trunks.data ? (
                <CampaignForm campaign={c} agents={agents.data.items} trunks={trunks.data.items} onSubmit={save} onCancel={() => setEditing(false)} />
              ) : <Loading what="agents and trunks" />}
            </Modal>
          </Stack>
        )}
      </QueryView>
    </>
  );
}
