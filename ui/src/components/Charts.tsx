/** Charts of the analytics endpoint, shared by the dashboard and the analytics page. */
import { Table, Text } from "@mantine/core";
import {
  Bar, BarChart, CartesianGrid, Cell, Legend, Pie, PieChart, ResponsiveContainer, Tooltip, XAxis, YAxis,
} from "recharts";
import type { Schemas } from "../api/client";
import { formatMs, label } from "../lib/format";
import { EmptyState } from "./PageState";

type Analytics = Schemas["Analytics"];

/** The analytics endpoint's stage names, as people say them. */
const STAGE_NAMES: Record<string, string> = {
  stt_final: "STT final",
  llm_first_token: "LLM first token",
  tts_first_audio: "TTS first audio",
  turn_total: "Turn total",
};
const stageName = (stage: string) => STAGE_NAMES[stage] ?? label(stage);

const PALETTE = ["#4c6ef5", "#12b886", "#fab005", "#fa5252", "#be4bdb", "#15aabf", "#fd7e14", "#868e96"];

export function CallsPerDayChart({ days }: { days: Analytics["calls_per_day"] }) {
  if (days.length === 0) return <EmptyState title="No calls in this period" />;
  return (
    <div role="img" aria-label={`Calls per day: ${days.map((d) => `${d.day} ${d.calls}`).join(", ")}`}>
      <ResponsiveContainer width="100%" height={260}>
        <BarChart data={days} margin={{ top: 8, right: 8, bottom: 0, left: -16 }}>
          <CartesianGrid strokeDasharray="3 3" vertical={false} />
          <XAxis dataKey="day" fontSize={12} />
          <YAxis allowDecimals={false} fontSize={12} />
          <Tooltip />
          <Legend />
          <Bar isAnimationActive={false} dataKey="calls" name="Calls" fill={PALETTE[0]} radius={[4, 4, 0, 0]} />
          <Bar isAnimationActive={false} dataKey="completed" name="Completed" fill={PALETTE[1]} radius={[4, 4, 0, 0]} />
        </BarChart>
      </ResponsiveContainer>
    </div>
  );
}

/** How ended calls ended; calls without an outcome (failed, in progress) are named below it by
 * status, never drawn as if a status were an outcome. */
export function OutcomesChart({ outcomes, withoutOutcome }: { outcomes: Analytics["outcomes"]; withoutOutcome: Analytics["without_outcome"] }) {
  const others = withoutOutcome.length > 0 && (
    <Text size="sm" c="dimmed" mt="xs">
      Without an outcome: {withoutOutcome.map((s) => `${s.calls} ${label(s.status).toLowerCase()}`).join(", ")}
    </Text>
  );
  if (outcomes.length === 0) return <><EmptyState title="No outcomes yet" />{others}</>;
  const data = outcomes.map((o) => ({ name: label(o.outcome), value: o.calls }));
  return (
    <>
    <div role="img" aria-label={`Outcomes: ${data.map((d) => `${d.name} ${d.value}`).join(", ")}`}>
      <ResponsiveContainer width="100%" height={260}>
        <PieChart>
          <Pie isAnimationActive={false} data={data} dataKey="value" nameKey="name" innerRadius="45%" outerRadius="70%" paddingAngle={2}>
            {data.map((_, i) => <Cell key={i} fill={PALETTE[i % PALETTE.length]} />)}
          </Pie>
          <Tooltip />
          <Legend />
        </PieChart>
      </ResponsiveContainer>
    </div>
    {others}
    </>
  );
}

export function LatencyChart({ latency }: { latency: Analytics["latency"] }) {
  const rows = latency.filter((l) => l.latency_ms.count > 0);
  if (rows.length === 0) return <EmptyState title="No latency measured in this period" />;
  const data = rows.map((l) => ({ name: l.vendor === "all" ? stageName(l.stage) : `${stageName(l.stage)} · ${l.vendor}`, p50: l.latency_ms.p50, p90: l.latency_ms.p90, p95: l.latency_ms.p95 }));
  return (
    <>
      <div role="img" aria-label="Latency percentiles per stage and vendor (table below)">
        <ResponsiveContainer width="100%" height={Math.max(200, 48 * data.length)}>
          <BarChart data={data} layout="vertical" margin={{ top: 8, right: 16, bottom: 0, left: 8 }}>
            <CartesianGrid strokeDasharray="3 3" horizontal={false} />
            <XAxis type="number" unit=" ms" fontSize={12} />
            <YAxis type="category" dataKey="name" width={190} fontSize={12} />
            <Tooltip formatter={(v) => formatMs(Number(v))} />
            <Legend />
            <Bar isAnimationActive={false} dataKey="p50" name="p50" fill={PALETTE[1]} />
            <Bar isAnimationActive={false} dataKey="p90" name="p90" fill={PALETTE[2]} />
            <Bar isAnimationActive={false} dataKey="p95" name="p95" fill={PALETTE[3]} />
          </BarChart>
        </ResponsiveContainer>
      </div>
      <Table.ScrollContainer minWidth={480}>
        <Table fz="sm" withTableBorder mt="sm" aria-label="Latency percentiles">
          <Table.Thead><Table.Tr><Table.Th>Stage</Table.Th><Table.Th>Vendor</Table.Th><Table.Th>Turns</Table.Th><Table.Th>p50</Table.Th><Table.Th>p90</Table.Th><Table.Th>p95</Table.Th><Table.Th>p99</Table.Th></Table.Tr></Table.Thead>
          <Table.Tbody>
            {rows.map((l) => (
              <Table.Tr key={`${l.stage}-${l.vendor}`}>
                <Table.Td>{stageName(l.stage)}</Table.Td><Table.Td>{l.vendor}</Table.Td><Table.Td>{l.latency_ms.count}</Table.Td>
                <Table.Td>{formatMs(l.latency_ms.p50)}</Table.Td><Table.Td>{formatMs(l.latency_ms.p90)}</Table.Td>
                <Table.Td>{formatMs(l.latency_ms.p95)}</Table.Td><Table.Td>{formatMs(l.latency_ms.p99)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
    </>
  );
}

export function UsageTable({ usage }: { usage: Analytics["usage"] }) {
  if (usage.length === 0) return <EmptyState title="No provider usage in this period" />;
  const keys = [...new Set(usage.flatMap((u) => Object.keys(u.totals)))];
  return (
    <Table.ScrollContainer minWidth={480}>
      <Table fz="sm" withTableBorder aria-label="Usage per provider">
        <Table.Thead><Table.Tr><Table.Th>Provider</Table.Th><Table.Th>Calls</Table.Th>{keys.map((k) => <Table.Th key={k}>{label(k)}</Table.Th>)}</Table.Tr></Table.Thead>
        <Table.Tbody>
          {usage.map((u) => (
            <Table.Tr key={u.provider}>
              <Table.Td>{u.provider}</Table.Td><Table.Td>{u.calls}</Table.Td>
              {keys.map((k) => <Table.Td key={k}>{Number.isInteger(u.totals[k]) ? u.totals[k] : (u.totals[k] ?? 0).toFixed(1)}</Table.Td>)}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

export function Stat({ name, value, hint }: { name: string; value: string; hint?: string }) {
  return (
    <div>
      <Text size="xs" c="dimmed" tt="uppercase" fw={700}>{name}</Text>
      <Text fz={28} fw={700} lh={1.2}>{value}</Text>
      {hint && <Text size="xs" c="dimmed">{hint}</Text>}
    </div>
  );
}
