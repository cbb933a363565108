import { useState } from "react";
import { Badge, Card, Code, Grid, Spoiler, Table, Text, TextInput, Tooltip } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { api } from "../api/client";
import { unwrap } from "../api/problem";
import { PageHeader } from "../components/PageHeader";
import { EmptyState, QueryView } from "../components/PageState";
import { Pager } from "../components/Pager";
import { auditAction, auditEntityName, auditEntityType, listsFields } from "../lib/audit";
import { formatDateTime, fromDateInput } from "../lib/format";

const LIMIT = 50;

function Change({ before, after }: { before: Record<string, unknown> | null; after: Record<string, unknown> | null }) {
  if (!before && !after) return <Text size="sm" c="dimmed">—</Text>;
  const keys = [...new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])];
  const changed = before && after ? keys.filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k])) : keys;
  return (
    <Spoiler maxHeight={60} showLabel="more" hideLabel="less">
      {changed.map((k) => (
        <Text size="xs" key={k}>
          <Code>{k}</Code>{" "}
          {before && k in before ? <Text span c="red" size="xs" td="line-through">{JSON.stringify(before[k])}</Text> : null}{" "}
          {after && k in after ? <Text span c="green" size="xs">{JSON.stringify(after[k])}</Text> : null}
        </Text>
      ))}
    </Spoiler>
  );
}

export function AuditLogPage() {
  const [filters, setFilters] = useState({ actor: "", action: "", entity_type: "", since: "", until: "" });
  const [debounced] = useDebouncedValue(filters, 300);
  const [offset, setOffset] = useState(0);
  const set = (key: keyof typeof filters) => (e: React.ChangeEvent<HTMLInputElement>) => {
    // Read now: the updater runs later, when React has already released the event.
    const value = e.currentTarget.value;
    setFilters((f) => ({ ...f, [key]: value }));
    setOffset(0);
  };
  const query = useQuery({
    queryKey: ["audit-logs", debounced, offset],
    queryFn: () => unwrap(api.GET("/api/v1/audit-logs", { params: { query: {
      actor: debounced.actor || undefined, action: debounced.action || undefined, entity_type: debounced.entity_type || undefined,
      since: fromDateInput(debounced.since), until: fromDateInput(debounced.until, true), limit: LIMIT, offset,
    } } })),
    placeholderData: keepPreviousData,
  });
  return (
    <>
      <PageHeader title="Audit log" description="Every change made in this tenant, by whom, with secrets redacted." />
      <Card withBorder mb="md" component="section" aria-label="Filters">
        <Grid gutter="sm">
          <Grid.Col span={{ base: 6, md: 3 }}><TextInput label="Actor" value={filters.actor} onChange={set("actor")} /></Grid.Col>
          <Grid.Col span={{ base: 6, md: 3 }}><TextInput label="Action" placeholder="e.g. update" value={filters.action} onChange={set("action")} /></Grid.Col>
          <Grid.Col span={{ base: 6, md: 2 }}><TextInput label="Entity type" value={filters.entity_type} onChange={set("entity_type")} /></Grid.Col>
          <Grid.Col span={{ base: 6, md: 2 }}><TextInput type="date" label="From" value={filters.since} onChange={set("since")} /></Grid.Col>
          <Grid.Col span={{ base: 6, md: 2 }}><TextInput type="date" label="To" value={filters.until} onChange={set("until")} /></Grid.Col>
        </Grid>
      </Card>
      <Card withBorder p={0}>
        <QueryView query={query} what="the audit log">
          {(page) => page.items.length === 0 ? <EmptyState title="Nothing recorded" /> : (
            <Table.ScrollContainer minWidth={820}>
              <Table striped>
                <Table.Thead><Table.Tr><Table.Th>When</Table.Th><Table.Th>Actor</Table.Th><Table.Th>Action</Table.Th><Table.Th>Entity</Table.Th><Table.Th>Change</Table.Th></Table.Tr></Table.Thead>
                <Table.Tbody>
                  {page.items.map((e) => (
                    <Table.Tr key={e.id}>
                      <Table.Td style={{ whiteSpace: "nowrap" }}>{formatDateTime(e.created_at)}</Table.Td>
                      <Table.Td>{e.actor}</Table.Td>
                      <Table.Td><Badge variant="light" color={auditAction(e.action).color} title={e.action}>{auditAction(e.action).text}</Badge></Table.Td>
                      <Table.Td>
                        <Text size="sm">{auditEntityType(e.entity_type)}</Text>
                        <Tooltip label={e.entity_id ?? ""} disabled={!e.entity_id}>
                          <Text size="sm" fw={500}>{auditEntityName(e) ?? <Text span size="xs" c="dimmed" ff="monospace">{e.entity_id ?? ""}</Text>}</Text>
                        </Tooltip>
                      </Table.Td>
                      <Table.Td maw={420}>
                        {listsFields(e) ? <Change before={e.before} after={e.after} />
                          : <Text size="sm">{auditAction(e.action).text} {auditEntityName(e) ?? "this " + auditEntityType(e.entity_type).toLowerCase()}</Text>}
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          )}
        </QueryView>
      </Card>
      {query.data && <Pager total={query.data.total} limit={LIMIT} offset={offset} onOffset={setOffset} />}
    </>
  );
}
