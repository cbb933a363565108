/** API documents as the server returns them, typed by the generated schema. */
import type { Schemas } from "../api/client";

export const catalog: Schemas["Catalog"] = {
  vendors: [
    { kind: "stt", vendor: "pocketsphinx", display_name: "PocketSphinx (offline)", description: "", models: ["en-us"], voices: [], needs_api_key: false, offline: true, ends_turns_early: false,
      options_schema: { type: "object", properties: { beam: { type: "number", minimum: 0, default: 1e-48 } } } },
    { kind: "stt", vendor: "deepgram", display_name: "Deepgram", description: "", models: ["nova-3"], voices: [], needs_api_key: true, offline: false, ends_turns_early: true, options_schema: { type: "object", properties: {} } },
    { kind: "llm", vendor: "scripted", display_name: "Scripted (offline)", description: "", models: [], voices: [], needs_api_key: false, offline: true, ends_turns_early: true,
      options_schema: { type: "object", properties: { greeting: { anyOf: [{ type: "string" }, { type: "null" }], default: null }, intents: { type: "array", default: [] } } } },
    { kind: "llm", vendor: "openai", display_name: "OpenAI", description: "", models: ["gpt-4.1-mini", "gpt-4.1"], voices: [], default_model: "gpt-4.1-mini", needs_api_key: true, offline: false, ends_turns_early: true,
      options_schema: { type: "object", properties: {
        temperature: { type: "number", minimum: 0, maximum: 2, default: 0.7 },
        include_usage: { type: "boolean", default: true },
        reasoning_effort: { anyOf: [{ enum: ["low", "medium", "high"] }, { type: "null" }], default: null },
      } } },
    { kind: "tts", vendor: "piper", display_name: "Piper (offline)", description: "", models: [], voices: ["en_US-joe-medium"], default_voice: "en_US-joe-medium", needs_api_key: false, offline: true, ends_turns_early: true,
      options_schema: { type: "object", properties: { length_scale: { type: "number", default: 1 } } } },
  ],
};

export const openaiProvider: Schemas["ProviderOut"] = {
  id: "11111111-1111-4111-8111-111111111111", name: "OpenAI production", kind: "llm", vendor: "openai", api_key: "****abcd",
  model: "gpt-4.1-mini", options: {}, created_at: "2026-11-23T10:00:00Z", updated_at: "2026-11-23T10:00:00Z",
};

export const me: Schemas["Me"] = { tenant_id: "22222222-2222-4222-8222-222222222222", role: "owner", actor: "owner@acme.test", user_id: "33333333-3333-4333-8333-333333333333", must_enrol_two_factor: false };

export function problem(status: number, errors: { field: string; reason: string }[]) {
  return { status, body: { title: "Unprocessable Content", status, detail: errors.map((e) => `${e.field}: ${e.reason}`).join("; "), errors } };
}

export const CAMPAIGN_ID = "5b0c6a52-8f3e-4a4e-9d7e-0d8f5c1e2a10";
export const AGENT_ID = "44444444-4444-4444-8444-444444444444";
export const TRUNK_ID = "55555555-5555-4555-8555-555555555555";
export const CAMPAIGN: Schemas["CampaignOut"] = {
  id: CAMPAIGN_ID, name: "Reminders", agent_id: AGENT_ID, trunk_id: TRUNK_ID, twilio: false, status: "running", start_at: null,
  max_concurrency: 5, calls_per_second: 1, calling_window: { days: [1, 2, 3, 4, 5], start: "09:00", end: "20:00" },
  retry_rules: { busy: { retries: 2, after_s: 600 } }, caller_ids: [],
  default_timezone: "UTC", started_at: null, completed_at: null, created_at: "2026-12-05T09:00:00Z",
};
