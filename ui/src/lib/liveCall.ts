/** Follow a call in progress: the API's server-sent events (`GET /calls/{id}/live`) replace the
 * call's cached detail on every change; when the call ends, its record is fetched instead. */
import { useEffect, useState } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, tokenStore, type Schemas } from "../api/client";
import { unwrap } from "../api/problem";

// The list of calls in progress changes when one starts or ends; every few seconds is as
// fresh as a person can read. (A call's own page follows it as it happens.)
const LIVE_LIST_REFRESH_MS = 5_000;

/** A call in progress as its controller describes it in Redis (fields vary by stage). */
export interface LiveRow {
  id: string;
  status: string;
  direction: string;
  from: string;
  to: string;
  agentId: string | null;
  turns: number | null;
  /** When it was answered (epoch ms), for a clock that runs between turns. */
  answeredAt: number | null;
}

function text(v: unknown): string {
  return typeof v === "string" ? v : "";
}

export function liveRow(id: string, state: Record<string, unknown>): LiveRow {
  const times = (typeof state.status_times === "object" && state.status_times !== null ? state.status_times : {}) as Record<string, unknown>;
  const status = text(state.status) || text(state.state) || "live";
  return {
    id,
    status: status === "answered" ? "in-progress" : status,
    direction: text(state.direction),
    from: text(state.from_number),
    to: text(state.to_number),
    agentId: text(state.agent_id) || null,
    turns: typeof state.turns === "number" ? state.turns : null,
    answeredAt: typeof times.answered === "number" ? times.answered * 1000 : null,
  };
}

export function useLiveCalls() {
  return useQuery({
    queryKey: ["calls", "live"],
    queryFn: async () => (await unwrap(api.GET("/api/v1/calls/live"))).items.map((c) => liveRow(c.id, c.state)),
    refetchInterval: LIVE_LIST_REFRESH_MS,
  });
}

/** One server-sent event: its `event:` name and its `data:` lines joined. */
export interface SseEvent {
  event: string;
  data: string;
}

/** Split a text/event-stream buffer into complete events and the incomplete rest. */
export function parseSse(buffer: string): { events: SseEvent[]; rest: string } {
  const blocks = buffer.replace(/\r\n?/g, "\n").split("\n\n");
  const rest = blocks.pop() ?? "";
  const events: SseEvent[] = [];
  for (const block of blocks) {
    let event = "message";
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue; // a keep-alive comment
      const [name, ...value] = line.split(":");
      const text = value.join(":").replace(/^ /, "");
      if (name === "event") event = text;
      else if (name === "data") data.push(text);
    }
    if (data.length > 0 || event !== "message") events.push({ event, data: data.join("\n") });
  }
  return { events, rest };
}

/** While `live`, keep `["call", callId]` current from the stream. fetch, not EventSource:
 * the session token goes in a header, never in a URL that lands in logs. */
export function useLiveCall(callId: string | undefined, live: boolean): void {
  const queryClient = useQueryClient();
  // Bumped when a stream closes with the call still live, to open the next one.
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    if (!callId || !live) return;
    const abort = new AbortController();
    const refetch = () => void queryClient.invalidateQueries({ queryKey: ["call", callId] });
    (async () => {
      const token = tokenStore.get();
      const response = await fetch(new URL(`/api/v1/calls/${callId}/live`, window.location.origin), {
        headers: { Accept: "text/event-stream", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
        signal: abort.signal,
      });
      if (!response.ok || !response.body) return refetch();
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const parsed = parseSse(buffer + value);
        buffer = parsed.rest;
        for (const e of parsed.events) {
          if (e.event === "call") queryClient.setQueryData(["call", callId], JSON.parse(e.data) as Schemas["CallDetail"]);
          if (e.event === "ended") return refetch();
        }
      }
      setGeneration((g) => g + 1);
    })().catch(() => {
      if (!abort.signal.aborted) refetch();
    });
    return () => abort.abort();
  }, [callId, live, generation, queryClient]);
}

/** The current time (epoch ms), ticking every second while `running`. */
export function useNow(running: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!running) return;
    const timer = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(timer);
  }, [running]);
  return now;
}

/** Milliseconds since `since` (an ISO time), ticking every second; null without a start. */
export function useElapsedMs(since: string | null | undefined, running: boolean): number | null {
  const now = useNow(running);
  return since ? Math.max(0, now - new Date(since).getTime()) : null;
}
