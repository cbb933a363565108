import { Anchor, Badge, Button, Card, Code, Grid, Group, SimpleGrid, Stack, Table, Tabs, Text, Title } from "@mantine/core";
import { modals } from "@mantine/modals";
import { IconArrowLeft, IconPhoneOff } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useParams } from "react-router";
import { api, type Schemas } from "../api/client";
import { unwrap } from "../api/problem";
import { useAuth } from "../auth/AuthContext";
import { CallAnalysis } from "../components/CallAnalysis";
import { ConversationView } from "../components/ConversationView";
import { LatencyWaterfall } from "../components/LatencyWaterfall";
import { PageHeader } from "../components/PageHeader";
import { EmptyState, QueryView } from "../components/PageState";
import { RecordingPlayer } from "../components/RecordingPlayer";
import { callBadge, eventsOf, LIVE_STATUSES, recordingFileName, transcriptOf, turnsOf } from "../lib/calls";
import { formatDateTime, formatMs, formatOffset, label } from "../lib/format";
import { notifyFailed, notifySaved } from "../lib/forms";
import { useElapsedMs, useLiveCall } from "../lib/liveCall";
import { useAgentNames } from "../lib/queries";
import { FailureText } from "../components/FailureText";
import { toolCallsOf } from "../lib/toolCalls";

// A queued call has no live state to follow until the dispatcher dials it; ask again this often.
const QUEUED_REFRESH_MS = 3_000;

function Fact({ name, children }: { name: string; children: React.ReactNode }) {
  return (
    <div>
      <Text size="xs" c="dimmed" tt="uppercase" fw={600}>{name}</Text>
      <Text size="sm" component="div">{children}</Text>
    </div>
  );
}

function UsageTable({ usage }: { usage: Record<string, unknown> }) {
  type Row = { kind?: string; vendor?: string; fallback?: boolean; usage?: Record<string, number> };
  // Counters keyed "kind:vendor", with ":fallback" for a fallback provider.
  const providers: Row[] = Object.entries(usage).map(([key, counters]) => {
    const [kind = "", vendor = key, tag] = key.includes(":") ? key.split(":") : ["", key];
    return { kind, vendor, fallback: tag === "fallback", usage: counters as Record<string, number> };
  });
  if (providers.length === 0) return <EmptyState title="No provider usage recorded" />;
  return (
    <Table.ScrollContainer minWidth={560}>
      <Table withTableBorder fz="sm" aria-label="Provider usage">
        <Table.Thead><Table.Tr><Table.Th>Kind</Table.Th><Table.Th>Vendor</Table.Th><Table.Th>Audio (s)</Table.Th><Table.Th>Characters</Table.Th><Table.Th>Tokens in / out</Table.Th><Table.Th>Requests</Table.Th></Table.Tr></Table.Thead>
        <Table.Tbody>
          {providers.map((p, i) => (
            <Table.Tr key={i}>
              <Table.Td>{(p.kind ?? "").toUpperCase()}</Table.Td>
              <Table.Td>{p.vendor}{p.fallback ? <Badge size="xs" ml={6} color="orange">fallback</Badge> : null}</Table.Td>
              <Table.Td>{(p.usage?.audio_seconds ?? 0).toFixed(1)}</Table.Td>
              <Table.Td>{p.usage?.characters ?? 0}</Table.Td>
              <Table.Td>{p.usage?.input_tokens ?? 0} / {p.usage?.output_tokens ?? 0}</Table.Td>
              <Table.Td>{p.usage?.requests ?? 0}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

function CallDetail({ call }: { call: Schemas["CallDetail"] }) {
  const { canEdit } = useAuth();
  const agentNames = useAgentNames();
  const queryClient = useQueryClient();
  const transcript = transcriptOf(call.transcript);
  // A new object per click, so the same line clicked twice plays from it again.
  const [seek, setSeek] = useState<{ ms: number } | null>(null);
  const turns = turnsOf(call.turns);
  const events = eventsOf(call.events);
  const live = call.live || (LIVE_STATUSES as readonly string[]).includes(call.status) || call.status === "queued";
  const elapsed = useElapsedMs(call.answered_at, call.live);
  const hangup = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/calls/{call_id}/hangup", { params: { path: { call_id: call.id } } })),
    onSuccess: (r) => { notifySaved(r.result === "cancelled" ? "Call cancelled" : "Hang-up requested"); void queryClient.invalidateQueries({ queryKey: ["call", call.id] }); },
    onError: notifyFailed,
  });

  return (
    <Stack>
      <Card withBorder>
        <SimpleGrid cols={{ base: 2, sm: 3, lg: 6 }} spacing="md">
          <Fact name="Status"><Badge color={callBadge(call).color} variant="light" data-testid="call-status">{callBadge(call).text}</Badge></Fact>
          <Fact name="Outcome">{call.outcome ? label(call.outcome) : "—"}</Fact>
          <Fact name="Direction">{label(call.direction)} · {call.transport}</Fact>
          <Fact name="From → To"><Text span ff="monospace" size="sm">{call.from_number || "—"} → {call.to_number || "—"}</Text></Fact>
          <Fact name="Agent">{call.agent_id ? <Anchor component={Link} to={`/agents/${call.agent_id}`} size="sm">{agentNames.get(call.agent_id) ?? "deleted agent"}</Anchor> : "—"}</Fact>
          {call.live
            ? <Fact name="Elapsed"><span data-testid="elapsed" aria-live="off">{elapsed === null ? "—" : formatOffset(elapsed)}</span></Fact>
            : <Fact name="Duration">{formatMs(call.duration_ms)}</Fact>}
          <Fact name="Started">{formatDateTime(call.started_at)}</Fact>
          <Fact name="Answered">{formatDateTime(call.answered_at)}</Fact>
          <Fact name="Ended">{formatDateTime(call.ended_at)}</Fact>
          <Fact name="Turns">{turns.length}</Fact>
          {call.error_reason && <Fact name="Error"><FailureText reason={call.error_reason} /></Fact>}
        </SimpleGrid>
        {live && canEdit && (
          <Group mt="md">
            <Button color="red" variant="light" leftSection={<IconPhoneOff size={16} />} loading={hangup.isPending}
              onClick={() => modals.openConfirmModal({ title: "Hang up this call?", labels: { confirm: "Hang up", cancel: "Cancel" }, confirmProps: { color: "red" }, onConfirm: () => hangup.mutate() })}>
              Hang up
            </Button>
          </Group>
        )}
      </Card>
      <CallAnalysis call={call} />
      {call.recording_url && (
        <Card withBorder>
          <Title order={2} size="h5" mb="xs">Recording</Title>
          <RecordingPlayer url={call.recording_url} seek={seek} fileName={(type) => recordingFileName(call, type)} />
        </Card>
      )}
      <Grid>
        <Grid.Col span={{ base: 12, lg: 6 }}>
          <Card withBorder h="100%">
            <Title order={2} size="h5" mb="sm">Conversation</Title>
            <ConversationView entries={transcript} toolCalls={toolCallsOf(events)} onPlayFrom={call.recording_url ? (ms) => setSeek({ ms }) : undefined} />
          </Card>
        </Grid.Col>
        <Grid.Col span={{ base: 12, lg: 6 }}>
          <Card withBorder h="100%">
            <Title order={2} size="h5" mb="sm">Latency per turn</Title>
            <Text size="xs" c="dimmed" mb="sm">From the caller's last word to the agent's first sound; for the greeting, from the call's audio connecting.</Text>
            <LatencyWaterfall turns={turns} />
          </Card>
        </Grid.Col>
      </Grid>
      <Card withBorder>
        <Tabs defaultValue="events">
          <Tabs.List>
            <Tabs.Tab value="events">Events ({events.length})</Tabs.Tab>
            <Tabs.Tab value="stt">Speech recognition ({call.stt_events.length})</Tabs.Tab>
            <Tabs.Tab value="usage">Provider usage</Tabs.Tab>
            <Tabs.Tab value="variables">Variables</Tabs.Tab>
          </Tabs.List>
          <Tabs.Panel value="events" pt="sm">
            {events.length === 0 ? <EmptyState title="No events recorded" /> : (
              <Table.ScrollContainer minWidth={480}>
                <Table fz="sm" withTableBorder aria-label="Call events">
                  <Table.Thead><Table.Tr><Table.Th>At</Table.Th><Table.Th>Event</Table.Th><Table.Th>Detail</Table.Th></Table.Tr></Table.Thead>
                  <Table.Tbody>
                    {events.map((e, i) => (
                      <Table.Tr key={i}>
                        <Table.Td>{formatOffset(e.at_ms)}</Table.Td>
                        <Table.Td><Code>{e.kind}</Code></Table.Td>
                        <Table.Td>{Object.entries(e.detail ?? {}).map(([k, v]) => `${k}: ${v}`).join(", ") || "—"}</Table.Td>
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              </Table.ScrollContainer>
            )}
          </Tabs.Panel>
          <Tabs.Panel value="stt" pt="sm">
            {call.stt_events.length === 0 ? <EmptyState title="No speech recognition events" /> : (
              <Table fz="sm" withTableBorder aria-label="Speech recognition events">
                <Table.Thead><Table.Tr><Table.Th>When</Table.Th><Table.Th>Kind</Table.Th><Table.Th>Vendor</Table.Th><Table.Th>Detail</Table.Th></Table.Tr></Table.Thead>
                <Table.Tbody>
                  {call.stt_events.map((e, i) => (
                    <Table.Tr key={i}><Table.Td>{formatDateTime(e.created_at)}</Table.Td><Table.Td>{e.kind}</Table.Td><Table.Td>{e.vendor}</Table.Td><Table.Td>{e.detail}</Table.Td></Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            )}
          </Tabs.Panel>
          <Tabs.Panel value="usage" pt="sm"><UsageTable usage={call.provider_usage} /></Tabs.Panel>
          <Tabs.Panel value="variables" pt="sm">
            <Code block>{JSON.stringify(call.variables, null, 2)}</Code>
          </Tabs.Panel>
        </Tabs>
      </Card>
    </Stack>
  );
}

export function CallDetailPage() {
  const { callId } = useParams();
  const query = useQuery({
    queryKey: ["call", callId],
    queryFn: () => unwrap(api.GET("/api/v1/calls/{call_id}", { params: { path: { call_id: callId! } } })),
    refetchInterval: (q) => (q.state.data?.status === "queued" ? QUEUED_REFRESH_MS : false),
  });
  useLiveCall(callId, query.data?.live ?? false);
  return (
    <>
      <Anchor component={Link} to="/calls" size="sm"><Group gap={4}><IconArrowLeft size={14} />All calls</Group></Anchor>
      <PageHeader title="Call" description={callId} />
      <QueryView query={query} what="the call">{(call) => <CallDetail call={call} />}</QueryView>
    </>
  );
}
