/** The deployment's health as `/healthz` reports it: PostgreSQL, Redis, the Asterisk (ARI)
 * and AMI connections, capacity, the record outbox and the event loop, plus whatever else the process
 * adds to its report. */
import { Anchor, Badge, Card, Group, SimpleGrid, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { api, type Schemas } from "../api/client";
import { formatDateTime, label } from "../lib/format";
import { useAllProviders } from "../lib/queries";
import { TaskList, tasksOf } from "./TaskList";

// Health changes rarely and matters when it does; a glance every half minute is enough.
const HEALTH_REFRESH_MS = 30_000;
// Event-loop lag above this means calls' audio is being delayed (vocals.loop_lag's threshold).
const LAG_WARNING_MS = 50;
// Shown in their own words below; the rest of the report is listed as it comes.
const KNOWN = new Set([
  "ari", "ami", "outbox_pending", "event_loop_lag_ms", "event_loop_lag_max_ms", "capacity", "live_calls", "greetings_ready", "audiosocket",
  "tasks", "dead_letters", "local_models", "process_id", "draining",
]);

function Item({ name, ok, children }: { name: string; ok: boolean | null; children: React.ReactNode }) {
  return (
    <div>
      <Text size="xs" c="dimmed" tt="uppercase" fw={600}>{name}</Text>
      <Group gap={6} wrap="nowrap">
        {ok !== null && <Badge size="xs" circle color={ok ? "green" : "red"} aria-label={ok ? "healthy" : "needs attention"}> </Badge>}
        <Text size="sm" component="div">{children}</Text>
      </Group>
    </div>
  );
}

function useHealth() {
  return useQuery({
    queryKey: ["healthz"],
    // A 503 still carries the report, which is what this panel shows.
    queryFn: async () => {
      const { data, error } = await api.GET("/healthz");
      return (data ?? error) as Schemas["Health"];
    },
    refetchInterval: HEALTH_REFRESH_MS,
  });
}

/** Each stored provider's last credential check, kept by the API; untested ones are left out. */
function ProviderChecks() {
  const providers = useAllProviders();
  const tested = (providers.data?.items ?? []).filter((p) => p.last_test);
  if (tested.length === 0) return null;
  return (
    <Group gap="md" mt="sm" aria-label="Provider checks">
      {tested.map((p) => (
        <Item key={p.id} name={p.name} ok={p.last_test!.ok}>
          {p.last_test!.ok ? "Credential works" : p.last_test!.message ?? "Refused"} <Text span size="xs" c="dimmed">({formatDateTime(p.last_test!.at)})</Text>
        </Item>
      ))}
    </Group>
  );
}

/** A value of the report in words: an object as "key value" pairs, not JSON. */
function text(value: unknown): string {
  if (Array.isArray(value)) return value.map(text).join(", ");
  if (typeof value === "object" && value !== null) return Object.entries(value).map(([k, v]) => `${label(k)} ${text(v)}`).join(", ");
  return String(value);
}

function number(value: unknown): number | null {
  return typeof value === "number" ? value : null;
}

export function HealthPanel() {
  const health = useHealth();
  const report = health.data;
  if (!report) return null;
  const extra = report.extra ?? {};
  const ari = typeof extra.ari === "string" ? extra.ari : null;
  const ami = typeof extra.ami === "string" ? extra.ami : null;
  const outbox = typeof extra.outbox_pending === "number" ? extra.outbox_pending : null;
  const lag = typeof extra.event_loop_lag_ms === "number" ? extra.event_loop_lag_ms : null;
  const capacity = (typeof extra.capacity === "object" && extra.capacity !== null ? extra.capacity : {}) as Record<string, unknown>;
  const others = Object.entries(extra).filter(([key]) => !KNOWN.has(key));
  const deadLetters = number(extra.dead_letters);
  const models = (typeof extra.local_models === "object" && extra.local_models !== null ? extra.local_models : null) as Record<string, unknown> | null;
  return (
    <Card withBorder component="section" aria-label="System health">
      <Group justify="space-between" mb="sm">
        <Title order={2} size="h5">System health</Title>
        <Badge color={report.status === "ok" ? "green" : "red"} variant="light">{report.status === "ok" ? "All services up" : "Degraded"}</Badge>
      </Group>
      <SimpleGrid cols={{ base: 2, sm: 3, lg: 5 }} spacing="md">
        <Item name="PostgreSQL" ok={report.postgres.ok}>{report.postgres.ok ? "Up" : report.postgres.error ?? "Down"}</Item>
        <Item name="Redis" ok={report.redis.ok}>{report.redis.ok ? "Up" : report.redis.error ?? "Down"}</Item>
        <Item name="Asterisk (ARI)" ok={ari === null || ari === "not configured" ? null : ari === "connected"}>{ari ? label(ari) : "—"}</Item>
        <Item name="Asterisk (AMI)" ok={ami === null || ami === "not configured" ? null : ami === "connected"}>{ami ? label(ami) : "—"}</Item>
        <Item name="Record outbox" ok={outbox === null ? null : outbox === 0}>{outbox === null ? "—" : outbox === 0 ? "Empty" : `${outbox} waiting for PostgreSQL`}</Item>
        <Item name="Event loop lag" ok={lag === null ? null : lag < LAG_WARNING_MS}>{lag === null ? "—" : `${lag} ms`}</Item>
        <Item name="Calls / capacity" ok={extra.draining === true ? false : null}>
          {typeof capacity.live_calls === "number" && typeof capacity.max_calls === "number" ? `${capacity.live_calls} / ${capacity.max_calls}` : text(extra.live_calls ?? "—")}
          {extra.draining === true && " · draining"}
        </Item>
        {deadLetters !== null && <Item name="Dead letters" ok={deadLetters === 0}>{deadLetters === 0 ? "None" : `${deadLetters} records could not be written`}</Item>}
        {models && (
          <Item name="Local model workers" ok={number(models.alive) === number(models.workers)}>
            {`${text(models.alive)} / ${text(models.workers)} up`}<Text size="xs" c="dimmed">{`${text(models.queued)} queued, ${text(models.restarts)} restarts`}</Text>
          </Item>
        )}
      </SimpleGrid>
      <TaskList tasks={tasksOf(extra.tasks)} />
      {others.length > 0 && (
        <Text size="xs" c="dimmed" mt="sm" style={{ overflowWrap: "anywhere" }}>{others.map(([key, value]) => `${label(key)}: ${text(value)}`).join(" · ")}</Text>
      )}
      {typeof extra.process_id === "string" && <Text size="xs" c="dimmed" mt="xs" style={{ overflowWrap: "anywhere" }}>Process {extra.process_id}</Text>}
      <ProviderChecks />
      <Text size="xs" mt="sm"><Anchor component={Link} to="/sip-trunks">Trunk registrations</Anchor> are on the SIP trunks page, live from Asterisk.</Text>
    </Card>
  );
}
