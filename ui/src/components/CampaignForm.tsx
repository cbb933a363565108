/** A campaign's settings: who calls (agent, trunk or Twilio), how fast, when (days and hours in
 * each lead's own time, holidays skipped), from which number, how each disposition is retried,
 * and when it starts. The API checks it all again; each refusal shows under its field. */
import { useEffect, useRef, useState } from "react";
import {
  Alert, Autocomplete, Button, Checkbox, Chip, Fieldset, Group, NumberInput, SegmentedControl, Select, SimpleGrid,
  Stack, TagsInput, Text, TextInput,
} from "@mantine/core";
import { useForm } from "@mantine/form";
import type { Schemas } from "../api/client";
import { RETRYABLE, dispositionLabel, type Campaign, type CampaignBody, type Retryable } from "../lib/campaigns";
import { applyProblem, focusFirstError } from "../lib/forms";

const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
// The API's defaults (store/campaign_rules.py DEFAULT_RETRY_RULES), in minutes here.
const DEFAULT_RETRIES: Record<Retryable, { retries: number; after_min: number }> = {
  busy: { retries: 2, after_min: 10 },
  no_answer: { retries: 2, after_min: 60 },
  failed: { retries: 1, after_min: 15 },
  voicemail_no_message: { retries: 1, after_min: 240 },
  ivr: { retries: 1, after_min: 240 },
  call_screening: { retries: 1, after_min: 120 },
};
const TIME_ZONES = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];

interface RetryValues { on: boolean; retries: number | string; after_min: number | string }
interface Values {
  name: string;
  agent_id: string;
  carrier: "trunk" | "twilio";
  trunk_id: string;
  // Not an input: named so the API's refusal of `twilio` shows on this form (applyProblem).
  twilio: boolean;
  max_concurrency: number | string;
  calls_per_second: number | string;
  calling_window: { days: string[]; start: string; end: string; holidays: string };
  caller_ids: string[];
  retry_rules: Record<Retryable, RetryValues>;
  default_timezone: string;
  start_at: string;
}

type Trunk = Pick<Schemas["TrunkOut"], "id" | "name" | "max_calls" | "max_cps">;
type Agent = { id: string; name: string; inbound_numbers: string[] };

/** An ISO time as a datetime-local input's value, in this browser's time zone. */
function toLocalInput(iso: string | null | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function initialValues(campaign: Campaign | undefined, agents: Agent[], trunks: Trunk[]): Values {
  const window = (campaign?.calling_window ?? {}) as { days?: number[]; start?: string; end?: string; holidays?: string | null };
  const stored = (campaign?.retry_rules ?? null) as Record<string, { retries: number; after_s: number }> | null;
  const retry_rules = Object.fromEntries(RETRYABLE.map((d) => {
    const rule = stored ? stored[d] : { retries: DEFAULT_RETRIES[d].retries, after_s: DEFAULT_RETRIES[d].after_min * 60 };
    return [d, rule
      ? { on: true, retries: rule.retries, after_min: rule.after_s / 60 }
      : { on: false, ...DEFAULT_RETRIES[d] }];
  })) as Record<Retryable, RetryValues>;
  return {
    name: campaign?.name ?? "",
    agent_id: campaign?.agent_id ?? agents[0]?.id ?? "",
    carrier: campaign?.twilio ? "twilio" : "trunk",
    trunk_id: campaign?.trunk_id ?? trunks[0]?.id ?? "",
    twilio: campaign?.twilio ?? false,
    max_concurrency: campaign?.max_concurrency ?? 1,
    calls_per_second: campaign?.calls_per_second ?? 1,
    calling_window: {
      days: (window.days ?? [1, 2, 3, 4, 5]).map(String),
      start: window.start ?? "09:00",
      end: window.end ?? "20:00",
      holidays: window.holidays ?? "",
    },
    caller_ids: campaign?.caller_ids ?? [],
    retry_rules,
    default_timezone: campaign?.default_timezone ?? "UTC",
    start_at: toLocalInput(campaign?.start_at),
  };
}

export function CampaignForm({ campaign, agents, trunks, onSubmit, onCancel }: {
  campaign?: Campaign;
  agents: Agent[];
  trunks: Trunk[];
  onSubmit: (body: CampaignBody) => Promise<unknown>;
  onCancel: () => void;
}) {
  const [formError, setFormError] = useState<string | null>(null);
  const formRef = useRef<HTMLFormElement>(null);
  // Counts the API's refusals: after the render that shows one, its first field takes the focus.
  const [refusals, setRefusals] = useState(0);
  useEffect(() => {
    if (refusals > 0) formRef.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
  }, [refusals]);
  const form = useForm<Values>({
    initialValues: initialValues(campaign, agents, trunks),
    validate: {
      name: (v) => (v.trim() ? null : "Give the campaign a name"),
      agent_id: (v) => (v ? null : "Choose the agent that calls"),
      trunk_id: (v, all) => (all.carrier === "trunk" && !v ? "Choose the trunk to call through" : null),
      max_concurrency: (v, all) => {
        const trunk = all.carrier === "trunk" ? trunks.find((t) => t.id === all.trunk_id) : undefined;
        return trunk && Number(v) > trunk.max_calls ? `The trunk allows ${trunk.max_calls} calls at once at most` : null;
      },
      calls_per_second: (v, all) => {
        const trunk = all.carrier === "trunk" ? trunks.find((t) => t.id === all.trunk_id) : undefined;
        return trunk && Number(v) > trunk.max_cps ? `The trunk allows ${trunk.max_cps} calls per second at most` : null;
      },
      calling_window: {
        days: (v) => (v.length ? null : "Choose at least one day"),
        end: (v, all) => (v <= all.calling_window.start ? "The window must end after it starts, the same day" : null),
        holidays: (v) => (v && !/^[A-Za-z]{2}$/.test(v.trim()) ? "A two-letter country code, e.g. US or FR" : null),
      },
      default_timezone: (v) => (v.trim() ? null : "A time zone name, e.g. Europe/Paris"),
    },
  });

  const submit = form.onSubmit(async (v) => {
    setFormError(null);
    const retry_rules = Object.fromEntries(RETRYABLE.filter((d) => v.retry_rules[d].on).map((d) => [
      d, { retries: Number(v.retry_rules[d].retries), after_s: Math.round(Number(v.retry_rules[d].after_min) * 60) },
    ]));
    const body: CampaignBody = {
      name: v.name.trim(),
      agent_id: v.agent_id,
      trunk_id: v.carrier === "trunk" ? v.trunk_id : null,
      twilio: v.carrier === "twilio",
      max_concurrency: Number(v.max_concurrency),
      calls_per_second: Number(v.calls_per_second),
      calling_window: {
        days: v.calling_window.days.map(Number).sort(),
        start: v.calling_window.start,
        end: v.calling_window.end,
        holidays: v.calling_window.holidays.trim() ? v.calling_window.holidays.trim().toUpperCase() : null,
      },
      retry_rules,
      caller_ids: v.caller_ids,
      default_timezone: v.default_timezone.trim(),
      start_at: v.start_at ? new Date(v.start_at).toISOString() : null,
    };
    try {
      await onSubmit(body);
    } catch (error) {
      setFormError(applyProblem(form, error));
      setRefusals((n) => n + 1);
    }
  }, focusFirstError);

  const trunk = trunks.find((t) => t.id === form.values.trunk_id);
  const numbers = [...new Set(agents.flatMap((a) => a.inbound_numbers))].sort();
  const callerIdError = Object.entries(form.errors).filter(([k]) => k.startsWith("caller_ids")).map(([, e]) => e).join("; ");
  return (
    <form ref={formRef} onSubmit={submit} noValidate aria-label="Campaign">
      <Stack>
        {formError && <Alert color="red" role="alert" title="Not saved">{formError}</Alert>}
        <Fieldset legend="Who calls">
          <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
            <TextInput label="Name" required {...form.getInputProps("name")} />
            <Select label="Agent" required allowDeselect={false} searchable
              data={agents.map((a) => ({ value: a.id, label: a.name }))} {...form.getInputProps("agent_id")} />
            <div>
              <Text size="sm" fw={500} id="campaign-carrier-label">Calls through</Text>
              <SegmentedControl aria-labelledby="campaign-carrier-label" fullWidth
                data={[{ value: "trunk", label: "SIP trunk" }, { value: "twilio", label: "Twilio" }]}
                {...form.getInputProps("carrier")} />
              {form.errors.twilio && <Text size="xs" c="red" role="alert">{form.errors.twilio}</Text>}
              {form.values.carrier === "twilio" && !form.errors.twilio && (
                <Text size="xs" c="dimmed">From the agent's Twilio number, through your Twilio account.</Text>
              )}
            </div>
            {form.values.carrier === "trunk" && (
              <Select label="SIP trunk" required allowDeselect={false}
                data={trunks.map((t) => ({ value: t.id, label: t.name }))}
                description={trunk ? `Allows ${trunk.max_calls} calls at once, ${trunk.max_cps} per second` : undefined}
                {...form.getInputProps("trunk_id")} />
            )}
          </SimpleGrid>
        </Fieldset>
        <Fieldset legend="Pace">
          <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
            <NumberInput label="Calls at once at most" min={1} max={1000} allowDecimal={false} {...form.getInputProps("max_concurrency")} />
            <NumberInput label="New calls per second at most" min={0.01} max={100} step={0.5} decimalScale={2} {...form.getInputProps("calls_per_second")} />
          </SimpleGrid>
        </Fieldset>
        <Fieldset legend="Calling window, in each lead's own time">
          <Stack gap="sm">
            <div role="group" aria-labelledby="campaign-days-label">
              <Text size="sm" fw={500} id="campaign-days-label" mb={4}>Days</Text>
              <Chip.Group multiple {...form.getInputProps("calling_window.days")}>
                <Group gap={6}>{DAYS.map((d, i) => <Chip key={d} value={String(i + 1)} size="sm">{d}</Chip>)}</Group>
              </Chip.Group>
              {form.errors["calling_window.days"] && <Text size="xs" c="red">{form.errors["calling_window.days"]}</Text>}
            </div>
            <SimpleGrid cols={{ base: 1, xs: 3 }} spacing="sm">
              <TextInput type="time" label="From" {...form.getInputProps("calling_window.start")} />
              <TextInput type="time" label="Until" {...form.getInputProps("calling_window.end")} />
              <TextInput label="Skip the public holidays of" placeholder="e.g. US" maxLength={2}
                description="Two-letter country code; empty: none" {...form.getInputProps("calling_window.holidays")} />
            </SimpleGrid>
            <Autocomplete label="Time zone of a lead whose number does not tell" data={TIME_ZONES} limit={20}
              {...form.getInputProps("default_timezone")} />
          </Stack>
        </Fieldset>
        <Fieldset legend="Caller ID">
          <TagsInput label="Numbers to call from" data={numbers} clearable
            description="Empty: the trunk's own. One: always that number. Several: rotated call by call. Only your own numbers."
            value={form.values.caller_ids} onChange={(v) => form.setFieldValue("caller_ids", v)}
            error={callerIdError || undefined} />
        </Fieldset>
        <Fieldset legend="Retries">
          <Stack gap="xs">
            {RETRYABLE.map((d) => {
              const on = form.values.retry_rules[d].on;
              return (
                <SimpleGrid key={d} cols={{ base: 1, sm: 3 }} spacing="sm" verticalSpacing={4}>
                  <Checkbox mt={{ base: 0, sm: 30 }} label={`Retry when ${dispositionLabel(d).toLowerCase()}`}
                    {...form.getInputProps(`retry_rules.${d}.on`, { type: "checkbox" })} />
                  <NumberInput label={`Retries (${dispositionLabel(d).toLowerCase()})`} min={1} max={20} allowDecimal={false} disabled={!on}
                    {...form.getInputProps(`retry_rules.${d}.retries`)} />
                  <NumberInput label={`Minutes later (${dispositionLabel(d).toLowerCase()})`} min={0} max={43200} disabled={!on}
                    {...form.getInputProps(`retry_rules.${d}.after_min`)}
                    error={form.errors[`retry_rules.${d}.after_min`] ?? form.errors[`retry_rules.${d}.after_s`]} />
                </SimpleGrid>
              );
            })}
            <Text size="xs" c="dimmed">Retries happen only inside the calling window. Other outcomes are final.</Text>
          </Stack>
        </Fieldset>
        <Fieldset legend="Schedule">
          <TextInput type="datetime-local" label="Start calling at" w={{ base: "100%", sm: 280 }}
            description="Empty: when you press Start. A time: Start waits until then (your browser's time)."
            {...form.getInputProps("start_at")} />
        </Fieldset>
        <Group justify="flex-end">
          <Button variant="default" onClick={onCancel}>Cancel</Button>
          <Button type="submit" loading={form.submitting}>{campaign ? "Save campaign" : "Create campaign"}</Button>
        </Group>
      </Stack>
    </form>
  );
}
