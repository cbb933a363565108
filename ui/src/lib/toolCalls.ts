/** The tools an agent called during a call, from the record's `tool.call` events
 * (pipeline/tools.py: name, id, arguments, result, ok, latency_ms; all strings). */
import type { CallEvent } from "./calls";

export interface ToolCallRecord {
  name: string;
  arguments: string;
  result: string;
  ok: boolean;
  latencyMs: number | null;
  /** When the call started (the event is written when it answered), ms since the call's start. */
  atMs: number;
}

export function toolCallsOf(events: CallEvent[]): ToolCallRecord[] {
  return events
    .filter((e) => e.kind === "tool.call" && typeof e.detail?.name === "string")
    .map((e) => {
      const detail = e.detail ?? {};
      const latency = Number(detail.latency_ms);
      const latencyMs = detail.latency_ms !== undefined && Number.isFinite(latency) ? latency : null;
      return {
        name: detail.name ?? "",
        arguments: detail.arguments ?? "",
        result: detail.result ?? "",
        ok: detail.ok === "true",
        latencyMs,
        atMs: Math.max(0, e.at_ms - (latencyMs ?? 0)),
      };
    });
}

/** JSON laid out for reading; anything else (a cut-off or plain-text answer) as it is. */
export function readableJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
