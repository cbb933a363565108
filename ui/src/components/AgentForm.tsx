/** Every field of an agent. Submits the full agent; API refusals land under their fields. */
import { useCallback, useEffect, useRef, useState } from "react";
import {
  Alert, Button, Checkbox, Fieldset, Group, NumberInput, SegmentedControl, Select, SimpleGrid, Stack, Switch,
  TagsInput, Text, TextInput, Textarea,
} from "@mantine/core";
import { useForm } from "@mantine/form";
import type { Schemas } from "../api/client";
import { applyProblem, focusFirstError } from "../lib/forms";
import { UnsavedChangesPrompt } from "../lib/unsaved";
import type { Vendor } from "../lib/queries";
import { AgentAnalysisFields } from "./AgentAnalysisFields";
import { ProviderChoiceFields, type Choice } from "./ProviderChoiceFields";
import { toolBodies, toolDrafts, toolErrors, ToolsEditor, type AgentBody, type AgentFormValues } from "./ToolsEditor";

export type { AgentBody };
type Sensitivity = NonNullable<AgentBody["barge_in_sensitivity"]>;

const SENSITIVITIES: { value: Sensitivity; label: string }[] = [
  { value: "very_low", label: "Very low" },
  { value: "low", label: "Low" },
  { value: "medium", label: "Medium" },
  { value: "high", label: "High" },
  { value: "very_high", label: "Very high" },
];

const KINDS = ["stt", "llm", "tts"] as const;

// The built-in tools the model may use during a call.
const CALL_TOOLS: { value: NonNullable<AgentBody["call_tools"]>[number]; label: string }[] = [
  { value: "send_dtmf", label: "Press keys (navigate a phone menu on outbound calls)" },
  { value: "wait_for_digits", label: "Collect keys the caller types (account numbers, PINs)" },
  { value: "end_call", label: "Hang up (as well as the [END_CALL] marker)" },
];

// The API's null (the server's VOCALS_MEDIA_TRANSPORT) is "default" here: a Select needs a string.
const MEDIA_TRANSPORTS = [
  { value: "default", label: "Server default", description: "Whatever this Vocals server is set to use" },
  { value: "audiosocket", label: "AudioSocket", description: "TCP; the simplest" },
  { value: "rtp", label: "RTP", description: "UDP; for Asterisk hosts where TCP media is not wanted" },
] as const;

function defaults(agent?: Schemas["AgentOut"]): AgentFormValues {
  return {
    name: agent?.name ?? "",
    system_prompt: agent?.system_prompt ?? "",
    welcome_message: agent?.welcome_message ?? "",
    welcome_interruptible: agent?.welcome_interruptible ?? true,
    language: agent?.language ?? "en-US",
    stt: agent?.stt ?? { vendor: null, options: {} },
    llm: agent?.llm ?? { vendor: null, options: {} },
    tts: agent?.tts ?? { vendor: null, options: {} },
    barge_in_sensitivity: agent?.barge_in_sensitivity ?? "medium",
    end_of_speech_ms: agent?.end_of_speech_ms ?? null,
    turn_detection: agent?.turn_detection ?? "silence",
    // No editor for smart's silences yet: the stored ones go back unchanged (set them over the API).
    smart_turn: agent?.smart_turn ?? null,
    vad: agent?.vad ?? "webrtc",
    noise_suppression: agent?.noise_suppression ?? "off",
    voicemail_policy: agent?.voicemail_policy ?? "hangup",
    voicemail_message: agent?.voicemail_message ?? "",
    max_call_seconds: agent?.max_call_seconds ?? 1800,
    recording_enabled: agent?.recording_enabled ?? false,
    recording_retention_days: agent?.recording_retention_days ?? 30,
    media_transport: agent?.media_transport ?? null,
    tools: toolDrafts(agent?.tools ?? []),
    // No editor yet: the stored MCP servers and transfer destinations go back unchanged (set
    // them over the API).
    mcp_servers: agent?.mcp_servers ?? [],
    transfer: agent?.transfer ?? { enabled: false, mode: "blind", targets: [], ring_timeout_s: 25 },
    analysis: agent?.analysis ?? { enabled: false, success_criteria: "", schema: null, llm: null },
    call_tools: agent?.call_tools ?? [],
    inbound_numbers: agent?.inbound_numbers ?? [],
  };
}

function chosen(c: Choice): string | null {
  return c.credential_id || c.vendor ? null : "Choose a provider or a vendor";
}

/** Errors under `prefix.` with the prefix taken off (`` for the prefix itself). */
function errorsUnder(errors: Record<string, unknown>, prefix: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(errors)) {
    if (k === prefix) out[""] = String(v);
    else if (k.startsWith(`${prefix}.`)) out[k.slice(prefix.length + 1)] = String(v);
  }
  return out;
}

/** The form as a request body for a test call; tools whose parameters are not JSON yet are
 * left out of the draft rather than breaking it. */
function draftBody(values: AgentFormValues): AgentBody {
  try {
    return { ...values, tools: toolBodies(values.tools) };
  } catch {
    const { tools: _unfinished, ...rest } = values;
    return rest;
  }
}

export function AgentForm({ agent, vendors, providers, readOnly, onSubmit, onDraft }: {
  agent?: Schemas["AgentOut"];
  vendors: Vendor[];
  providers: Schemas["ProviderOut"][];
  readOnly?: boolean;
  onSubmit: (body: AgentBody) => Promise<unknown>;
  /** The unsaved values as they change (null: nothing unsaved), e.g. for a test call. */
  onDraft?: (draft: AgentBody | null) => void;
}) {
  const [formError, setFormError] = useState<string | null>(null);
  const form = useForm<AgentFormValues>({
    initialValues: defaults(agent),
    validate: (values) => ({
      name: values.name.trim() ? null : "Give the agent a name",
      stt: chosen(values.stt),
      llm: chosen(values.llm),
      tts: chosen(values.tts),
      voicemail_message: values.voicemail_policy === "leave_message" && !values.voicemail_message.trim() ? "Write the message to leave" : null,
      ...toolErrors(values.tools),
    }),
  });

  useEffect(() => onDraft?.(form.isDirty() ? draftBody(form.values) : null), [form.values]);

  // The API names one number of the list (`inbound_numbers.1`): shown under the list, with it.
  const numberErrors = Object.entries(form.errors)
    .filter(([path]) => path.startsWith("inbound_numbers."))
    .map(([path, reason]) => `${form.values.inbound_numbers[Number(path.split(".")[1])] ?? ""}: ${String(reason)}`);
  const transport = MEDIA_TRANSPORTS.find((t) => t.value === (form.values.media_transport ?? "default"));

  // Set while a save is under way: the page may navigate once it is stored.
  const saving = useRef(false);
  const unsaved = useCallback(() => !readOnly && !saving.current && form.isDirty(), [readOnly, form]);
  const submit = form.onSubmit(async (values) => {
    setFormError(null);
    saving.current = true;
    try {
      await onSubmit({ ...values, tools: toolBodies(values.tools) });
      form.resetDirty(values);
    } catch (error) {
      setFormError(applyProblem(form, error));
    } finally {
      saving.current = false;
    }
  }, focusFirstError);

  return (
    <form onSubmit={submit} noValidate aria-label="Agent">
      <UnsavedChangesPrompt unsaved={unsaved} />
      <fieldset disabled={readOnly} style={{ border: 0, padding: 0, margin: 0 }}>
        <Stack>
          {formError && <Alert color="red" role="alert" title="Not saved">{formError}</Alert>}
          <Fieldset legend="Identity">
            <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
              <TextInput label="Name" required {...form.getInputProps("name")} />
              <TextInput label="Language" description="BCP 47 tag, e.g. en-US" {...form.getInputProps("language")} />
            </SimpleGrid>
            <Textarea mt="sm" label="System prompt" autosize minRows={4} maxRows={16} {...form.getInputProps("system_prompt")} />
            <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm" mt="sm">
              <Textarea label="Welcome message" description="Spoken when the call is answered; empty to wait for the caller" autosize minRows={2} {...form.getInputProps("welcome_message")} />
              <Switch mt="lg" label="Caller may interrupt the welcome message" {...form.getInputProps("welcome_interruptible", { type: "checkbox" })} />
            </SimpleGrid>
          </Fieldset>

          {KINDS.map((kind) => (
            <ProviderChoiceFields
              key={kind}
              kind={kind}
              value={form.values[kind]}
              onChange={(next) => form.setFieldValue(kind, next)}
              vendors={vendors.filter((v) => v.kind === kind)}
              providers={providers}
              errors={errorsUnder(form.errors, kind)}
            />
          ))}

          <Fieldset legend="Conversation">
            <Stack gap="sm">
              <div>
                <Text size="sm" fw={500} id="barge-in-label">Barge-in sensitivity</Text>
                <Text size="xs" c="dimmed" mb={4}>How readily caller speech interrupts the agent</Text>
                <SegmentedControl
                  aria-labelledby="barge-in-label"
                  data={SENSITIVITIES}
                  fullWidth
                  {...form.getInputProps("barge_in_sensitivity")}
                />
              </div>
              <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
                <NumberInput label="End of speech (ms)" description="Silence that ends the caller's turn; empty for the default" min={100} max={5000}
                  value={form.values.end_of_speech_ms ?? ""} error={form.errors.end_of_speech_ms}
                  onChange={(v) => form.setFieldValue("end_of_speech_ms", typeof v === "number" ? v : null)} />
                <NumberInput label="Maximum call duration (s)" min={1} max={86400} {...form.getInputProps("max_call_seconds")} />
                <Select label="Turn detection" allowDeselect={false}
                  description="When the caller's turn is over. Smart answers sooner only with a recognizer trusted for it (not the offline recognizers: Whisper has words only once the caller stops, PocketSphinx's are too often wrong)"
                  data={[
                    { value: "silence", label: "After the end-of-speech silence" },
                    { value: "smart", label: "Smart: sooner when the sentence is finished" },
                  ]}
                  {...form.getInputProps("turn_detection")} />
                <Select label="Speech detection" allowDeselect={false}
                  description="What tells the caller's voice from line noise"
                  data={[
                    { value: "webrtc", label: "WebRTC VAD (light)" },
                    { value: "silero", label: "Silero: better on noisy lines, more CPU" },
                  ]}
                  {...form.getInputProps("vad")} />
                <Select label="Noise suppression" allowDeselect={false}
                  description="Cleans the caller's audio before speech detection and recognition"
                  data={[
                    { value: "off", label: "Off" },
                    { value: "webrtc", label: "WebRTC: takes steady line noise down (light)" },
                  ]}
                  {...form.getInputProps("noise_suppression")} />
              </SimpleGrid>
            </Stack>
          </Fieldset>

          <Fieldset legend="Voicemail and recording">
            <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
              <Select label="When voicemail answers" allowDeselect={false}
                data={[{ value: "hangup", label: "Hang up" }, { value: "leave_message", label: "Leave a message" }]}
                {...form.getInputProps("voicemail_policy")} />
              {form.values.voicemail_policy === "leave_message" && (
                <Textarea label="Voicemail message" autosize minRows={2} {...form.getInputProps("voicemail_message")} />
              )}
            </SimpleGrid>
            <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm" mt="sm">
              <Switch mt="lg" label="Record calls" {...form.getInputProps("recording_enabled", { type: "checkbox" })} />
              {form.values.recording_enabled && (
                <NumberInput label="Keep recordings (days)" min={1} max={3650} {...form.getInputProps("recording_retention_days")} />
              )}
            </SimpleGrid>
          </Fieldset>

          <AgentAnalysisFields value={form.values.analysis} providers={providers}
            errors={errorsUnder(form.errors, "analysis")} onChange={(next) => form.setFieldValue("analysis", next)} />

          <Fieldset legend="Telephony">
            <TagsInput label="Numbers this agent answers" description="Press Enter after each number (E.164, e.g. +4930123456)"
              {...form.getInputProps("inbound_numbers")} error={form.errors.inbound_numbers ?? (numberErrors.join(" ") || undefined)} />
            <Select mt="sm" label="Media transport" description={transport?.description} allowDeselect={false}
              data={MEDIA_TRANSPORTS.map(({ value, label }) => ({ value, label }))}
              value={form.values.media_transport ?? "default"} error={form.errors.media_transport}
              onChange={(v) => form.setFieldValue("media_transport", v === "audiosocket" || v === "rtp" ? v : null)} />
            <Checkbox.Group mt="sm" label="Call tools the agent may use" {...form.getInputProps("call_tools")}>
              <Stack gap={6} mt={6}>{CALL_TOOLS.map((t) => <Checkbox key={t.value} value={t.value} label={t.label} />)}</Stack>
            </Checkbox.Group>
          </Fieldset>

          <ToolsEditor form={form} />

          {!readOnly && (
            <Group justify="flex-end">
              <Button type="submit" loading={form.submitting}>{agent ? "Save agent" : "Create agent"}</Button>
            </Group>
          )}
        </Stack>
      </fieldset>
    </form>
  );
}
