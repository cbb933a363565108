import { useState } from "react";
import { Anchor, Badge, Button, Card, Grid, Group, Menu, Modal, Select, Table, Text, TextInput, Title } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { IconDownload, IconPhoneOutgoing, IconSearch } from "@tabler/icons-react";
import { keepPreviousData, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate, useSearchParams } from "react-router";
import { useAuth } from "../auth/AuthContext";
import { OriginateForm, type OriginateBody } from "../components/OriginateForm";
import { notifyRefused, notifySaved } from "../lib/forms";
import { api, downloadFile } from "../api/client";
import { unwrap } from "../api/problem";
import { PageHeader } from "../components/PageHeader";
import { EmptyState, QueryView } from "../components/PageState";
import { Pager } from "../components/Pager";
import { SortHeader } from "../components/SortHeader";
import { formatCost } from "../lib/cost";
import { CALL_OUTCOMES, CALL_STATUSES, callBadge, parseCallSearch } from "../lib/calls";
import { formatDateTime, formatMs, fromDateInput, label } from "../lib/format";
import { useLiveCalls } from "../lib/liveCall";
import { ALL, useAgentNames, useAllAgents } from "../lib/queries";
import { LiveCallsTable } from "../components/LiveCallsTable";

const LIMIT = 50;
// New calls appear without a reload; a person reading the list does not need it faster.
const LIST_REFRESH_MS = 15_000;

export function CallsPage() {
  const [params, setParams] = useSearchParams();
  const { canEdit } = useAuth();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [originating, setOriginating] = useState(false);
  const trunks = useQuery({
    queryKey: ["sip-trunks", "all"],
    queryFn: () => unwrap(api.GET("/api/v1/sip-trunks", { params: { query: { limit: ALL } } })),
    enabled: originating,
  });
  const originate = async (body: OriginateBody) => {
    const placed = await unwrap(api.POST("/api/v1/calls", { body }));
    await queryClient.invalidateQueries({ queryKey: ["calls"] });
    notifySaved(placed.scheduled_at ? "Call scheduled" : "Call queued");
    setOriginating(false);
    navigate(`/calls/${placed.id}`);
  };
  const agents = useAllAgents();
  const agentNames = useAgentNames();
  const get = (key: string) => params.get(key) ?? "";
  const set = (key: string, value: string | null) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    if (key !== "offset") next.delete("offset");
    setParams(next, { replace: true });
  };
  const [text] = useDebouncedValue(get("q"), 300);
  const [searched] = useDebouncedValue(get("find"), 300);
  const search = parseCallSearch(searched);
  const sort = get("sort") || "-started_at";
  const offset = Number(get("offset") || 0);
  const filters = {
    status: get("status") || undefined,
    direction: (get("direction") || undefined) as "inbound" | "outbound" | undefined,
    agent_id: get("agent") || undefined,
    outcome: get("outcome") || undefined,
    since: fromDateInput(get("since")),
    until: fromDateInput(get("until"), true),
    q: text || undefined,
    number: search.number,
    id: search.id,
  };
  const [exporting, setExporting] = useState(false);
  const exportCalls = async (format: "csv" | "json", transcripts: boolean) => {
    const query = new URLSearchParams({ format, transcripts: String(transcripts), sort });
    for (const [key, value] of Object.entries(filters)) if (value) query.set(key, value);
    setExporting(true);
    try {
      await downloadFile(`/api/v1/calls/export?${query}`, `calls.${format}`);
    } catch (error) {
      notifyRefused("Export failed", error);
    } finally {
      setExporting(false);
    }
  };
  const query = useQuery({
    queryKey: ["calls", filters, sort, offset],
    queryFn: () => unwrap(api.GET("/api/v1/calls", { params: { query: { ...filters, sort, limit: LIMIT, offset } } })),
    placeholderData: keepPreviousData,
    refetchInterval: LIST_REFRESH_MS,
  });
  const live = useLiveCalls();

  return (
    <>
      <PageHeader title="Calls" description="Every call, inbound and outbound, with its transcript and latency."
        actions={
          <Group gap="xs">
            <Menu position="bottom-end">
              <Menu.Target>
                <Button variant="default" leftSection={<IconDownload size={16} />} loading={exporting}>Export</Button>
              </Menu.Target>
              <Menu.Dropdown>
                <Menu.Label>The calls these filters find</Menu.Label>
                <Menu.Item onClick={() => void exportCalls("csv", false)}>CSV</Menu.Item>
                <Menu.Item onClick={() => void exportCalls("csv", true)}>CSV with transcripts</Menu.Item>
                <Menu.Item onClick={() => void exportCalls("json", true)}>JSON with transcripts</Menu.Item>
              </Menu.Dropdown>
            </Menu>
            {canEdit && <Button leftSection={<IconPhoneOutgoing size={16} />} onClick={() => setOriginating(true)}>New call</Button>}
          </Group>
        } />
      <Card withBorder mb="md" component="section" aria-label="Filters">
        <Grid gutter="sm">
          <Grid.Col span={{ base: 12, md: 4 }}>
            <TextInput label="Number or call id" leftSection={<IconSearch size={16} />} value={get("find")} onChange={(e) => set("find", e.currentTarget.value)}
              placeholder="+49 30 123456" error={search.invalid ? "Type the digits of a phone number, or a call id" : undefined} />
          </Grid.Col>
          <Grid.Col span={{ base: 12, md: 4 }}>
            <TextInput label="Transcript contains" leftSection={<IconSearch size={16} />} value={get("q")} onChange={(e) => set("q", e.currentTarget.value)} />
          </Grid.Col>
          <Grid.Col span={{ base: 6, md: 2 }}>
            <Select label="Status" clearable data={CALL_STATUSES.map((s) => ({ value: s, label: label(s) }))} value={get("status") || null} onChange={(v) => set("status", v)} />
          </Grid.Col>
          <Grid.Col span={{ base: 6, md: 2 }}>
            <Select label="Direction" clearable data={[{ value: "inbound", label: "Inbound" }, { value: "outbound", label: "Outbound" }]} value={get("direction") || null} onChange={(v) => set("direction", v)} />
          </Grid.Col>
          <Grid.Col span={{ base: 6, md: 2 }}>
            <Select label="Agent" clearable searchable data={(agents.data?.items ?? []).map((a) => ({ value: a.id, label: a.name }))} value={get("agent") || null} onChange={(v) => set("agent", v)} />
          </Grid.Col>
          <Grid.Col span={{ base: 6, md: 2 }}>
            <Select label="Outcome" clearable data={CALL_OUTCOMES.map((o) => ({ value: o, label: label(o) }))} value={get("outcome") || null} onChange={(v) => set("outcome", v)} />
          </Grid.Col>
          <Grid.Col span={{ base: 6, md: 2 }}>
            <TextInput type="date" label="From" value={get("since")} onChange={(e) => set("since", e.currentTarget.value)} />
          </Grid.Col>
          <Grid.Col span={{ base: 6, md: 2 }}>
            <TextInput type="date" label="To" value={get("until")} onChange={(e) => set("until", e.currentTarget.value)} />
          </Grid.Col>
        </Grid>
      </Card>
      {live.data && live.data.length > 0 && offset === 0 && (
        <Card withBorder p={0} mb="md" component="section" aria-label="In progress">
          <Title order={2} size="h5" p="md" pb={0}>In progress</Title>
          <LiveCallsTable calls={live.data} />
        </Card>
      )}
      <Card withBorder p={0}>
        <QueryView query={query} what="calls">
          {(page) =>
            page.items.length === 0 ? (
              <EmptyState title="No calls match">Calls appear here as soon as they start; try widening the filters.</EmptyState>
            ) : (
              <Table.ScrollContainer minWidth={860}>
                <Table striped highlightOnHover>
                  <Table.Thead>
                    <Table.Tr>
                      <SortHeader column="started_at" sort={sort} onSort={(s) => set("sort", s)}>Started</SortHeader>
                      <Table.Th>Direction</Table.Th>
                      <Table.Th>From → To</Table.Th>
                      <Table.Th>Agent</Table.Th>
                      <SortHeader column="status" sort={sort} onSort={(s) => set("sort", s)}>Status</SortHeader>
                      <Table.Th>Outcome</Table.Th>
                      <SortHeader column="duration_ms" sort={sort} onSort={(s) => set("sort", s)}>Duration</SortHeader>
                      <Table.Th>Cost</Table.Th>
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {page.items.map((c) => (
                      <Table.Tr key={c.id}>
                        <Table.Td><Anchor component={Link} to={`/calls/${c.id}`} size="sm">{formatDateTime(c.started_at ?? c.queued_at ?? c.created_at)}</Anchor></Table.Td>
                        <Table.Td>{label(c.direction)}</Table.Td>
                        <Table.Td><Text size="sm" ff="monospace">{c.from_number || "—"} → {c.to_number || "—"}</Text></Table.Td>
                        <Table.Td>{c.agent_id ? (agentNames.get(c.agent_id) ?? "deleted agent") : "—"}</Table.Td>
                        <Table.Td><Badge color={callBadge(c).color} variant="light" title={c.error_reason ?? undefined}>{callBadge(c).text}</Badge></Table.Td>
                        <Table.Td>{c.outcome ? label(c.outcome) : "—"}</Table.Td>
                        <Table.Td>{formatMs(c.duration_ms)}</Table.Td>
                        <Table.Td>{formatCost(c.cost_total)}</Table.Td>
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              </Table.ScrollContainer>
            )
          }
        </QueryView>
      </Card>
      {query.data && <Pager total={query.data.total} limit={LIMIT} offset={offset} onOffset={(o) => set("offset", String(o))} />}
      <Modal opened={originating} onClose={() => setOriginating(false)} title="New outbound call" size="lg">
        {originating && (
          <OriginateForm agents={agents.data?.items ?? []} trunks={trunks.data?.items ?? []} onSubmit={originate} onCancel={() => setOriginating(false)} />
        )}
      </Modal>
    </>
  );
}
