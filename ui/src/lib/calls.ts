/** What calls look like on screen: statuses, outcomes and the shape of their records. */
import { label } from "./format";

export const CALL_STATUSES = ["queued", "dialing", "ringing", "answered", "busy", "no-answer", "failed", "voicemail", "completed"] as const;
/** Statuses of a call still in progress ("in-progress": answered, as the API shows a live call). */
export const LIVE_STATUSES = ["dialing", "ringing", "answered", "in-progress"] as const;
export const CALL_OUTCOMES = ["caller_hung_up", "agent_ended", "transferred", "voicemail", "max_duration", "stopped", "error"] as const;

export function statusColor(status: string): string {
  switch (status) {
    case "completed": return "green";
    case "answered": case "in-progress": case "ringing": case "dialing": return "blue";
    case "queued": return "gray";
    case "voicemail": return "grape";
    case "busy": case "no-answer": return "yellow";
    default: return "red";
  }
}

/** The badge of a call: a call that ended in an error (its recognition failed, say) is red
 * whatever status it reached, never a green "Completed". */
export function callBadge(call: { status: string; outcome?: string | null; error_reason?: string | null }): { color: string; text: string } {
  if (call.status === "completed" && (call.outcome === "error" || call.error_reason)) return { color: "red", text: "Error" };
  return { color: statusColor(call.status), text: label(call.status) };
}

/** What the calls search box holds: a call id, part of a phone number, or neither. */
export function parseCallSearch(text: string): { id?: string; number?: string; invalid?: boolean } {
  const value = text.trim();
  if (value === "") return {};
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)) return { id: value.toLowerCase() };
  const digits = value.replace(/[\s().-]/g, "");
  return /^\+?[0-9]{1,20}$/.test(digits) ? { number: digits } : { invalid: true };
}

/** One utterance of the transcript (pipeline.records.TranscriptEntry). */
export interface TranscriptEntry {
  role: "caller" | "agent";
  text: string;
  at_ms: number;
  interrupted?: boolean;
  dtmf?: boolean;
}

/** Timestamps of one turn in ms since the call was answered (pipeline.records.TurnMetrics). */
export interface TurnMetrics {
  index: number;
  end_of_speech_ms?: number | null;
  stt_final_ms?: number | null;
  llm_first_token_ms?: number | null;
  first_sentence_ms?: number | null;
  tts_first_audio_ms?: number | null;
  first_frame_out_ms?: number | null;
  barge_in_speech_ms?: number | null;
  barge_in_decided_ms?: number | null;
  barge_in_cleared_ms?: number | null;
  interrupted?: boolean;
  failed?: boolean;
}

export interface CallEvent {
  kind: string;
  at_ms: number;
  detail?: Record<string, string>;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null;
}

/** Records are stored as JSON; keep only entries with the fields the views rely on. */
export function transcriptOf(raw: unknown[]): TranscriptEntry[] {
  return raw.filter((e): e is TranscriptEntry => isRecord(e) && (e.role === "caller" || e.role === "agent") && typeof e.text === "string" && typeof e.at_ms === "number");
}

export function turnsOf(raw: unknown[]): TurnMetrics[] {
  return raw.filter((t): t is TurnMetrics => isRecord(t) && typeof t.index === "number");
}

export function eventsOf(raw: unknown[]): CallEvent[] {
  return raw.filter((e): e is CallEvent => isRecord(e) && typeof e.kind === "string" && typeof e.at_ms === "number");
}

/** A recording's file name that says which call it is: `call-2026-12-05-0712-+15551230000-to-+15557650000.flac`
 * (the start in UTC, both parties, the extension of the served type). */
export function recordingFileName(call: { id: string; from_number: string; to_number: string; started_at?: string | null; created_at: string }, type: string): string {
  const start = new Date(call.started_at ?? call.created_at).toISOString();
  const when = `${start.slice(0, 10)}-${start.slice(11, 13)}${start.slice(14, 16)}`;
  const party = (n: string) => n.replace(/[^0-9A-Za-z+]+/g, "") || "unknown";
  const extension = type.includes("wav") ? "wav" : type.includes("flac") ? "flac" : "audio";
  return `call-${when}-${party(call.from_number)}-to-${party(call.to_number)}.${extension}`;
}
