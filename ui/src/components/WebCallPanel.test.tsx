import { act, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { tokenStore } from "../api/client";
import { me } from "../test/fixtures";
import { fakeApi, renderWithApp } from "../test/render";
import { WebCallPanel } from "./WebCallPanel";

const AGENT = "44444444-4444-4444-8444-444444444444";
const grant = (draft: boolean) => ({
  token: "tok-1", agent_id: AGENT, allowed_origin: "http://localhost:3000", expires_at: "2026-12-05T10:00:00Z",
  socket_url: `ws://localhost:3000/web-calls/${AGENT}/socket`, script_url: "http://localhost:3000/web-call.js", draft,
});

type Events = Record<string, ((value?: unknown) => void) | undefined>;

/** The server's /web-call.js as the page sees it: records the call and lets the test play the
 * server's side through the events it was given (the real one runs in the Chromium test). */
function serverClient() {
  const calls: { socketUrl: string; token: string; on: Events }[] = [];
  const hangup = vi.fn();
  window.VocalsWebCall = {
    start: (options) => {
      calls.push(options as unknown as { socketUrl: string; token: string; on: Events });
      return { hangup };
    },
  };
  return { calls, hangup };
}

function serve(draft: boolean) {
  tokenStore.set("tok");
  const api = fakeApi({
    "GET /api/v1/auth/me": me,
    [`POST /api/v1/agents/${AGENT}/web-calls`]: { status: 201, body: grant(draft) },
  });
  vi.stubGlobal("fetch", api.fetch);
  return api;
}

afterEach(() => {
  delete window.VocalsWebCall;
});

describe("WebCallPanel", () => {
  it("starts a call with the unsaved draft, shows the transcript and latencies, then links to the call", async () => {
    const api = serve(true);
    const client = serverClient();
    const draft = { name: "Reception", stt: { vendor: "pocketsphinx" }, llm: { vendor: "scripted" }, tts: { vendor: "piper" },
      welcome_message: "Draft hello", inbound_numbers: ["+15550001"] } as const;
    renderWithApp(<WebCallPanel agentId={AGENT} draft={draft as never} />);
    await userEvent.setup().click(await screen.findByRole("button", { name: "Talk to this agent" }));
    const dialog = await screen.findByRole("dialog", { name: "Talk to this agent" });
    await vi.waitFor(() => expect(client.calls).toHaveLength(1));
    const body = api.calls.find((c) => c.method === "POST")?.body as { draft: Record<string, unknown> };
    expect(body.draft.welcome_message).toBe("Draft hello");
    expect(body.draft.inbound_numbers).toBeUndefined();
    expect(client.calls[0]).toMatchObject({ socketUrl: grant(true).socket_url, token: "tok-1" });

    const on = client.calls[0]!.on;
    act(() => {
      on.state!("live");
      on.started!({ callId: "c-1", draft: true });
      on.transcript!({ role: "agent", text: "Draft hello", interrupted: false });
      on.transcript!({ role: "caller", text: "opening hours", interrupted: false });
      on.turn!({ index: 0, latency: { total_ms: null } });
      on.turn!({ index: 1, latency: { total_ms: 640, stt_final_ms: 300, llm_first_token_ms: 200, tts_first_audio_ms: 100 } });
      on.transcript!({ role: "agent", text: "We're open", interrupted: true });
      on.cleared!();
      on.audio!(2300);
    });
    expect(within(dialog).getByText("Draft: unsaved changes")).toBeInTheDocument();
    expect(within(dialog).getByRole("status")).toHaveTextContent("Connected: speak now");
    const transcript = within(dialog).getByLabelText("Live transcript");
    expect(transcript).toHaveTextContent("Agent: Draft hello");
    expect(transcript).toHaveTextContent("You: opening hours");
    expect(transcript).toHaveTextContent("We're open (interrupted)");
    const latencies = within(dialog).getByLabelText("Turn latencies");
    expect(latencies).toHaveTextContent("Turn 1: 640 ms to the agent's first audio (speech recognition 300 ms · first token 200 ms · first audio 100 ms)");
    expect(latencies).not.toHaveTextContent("Turn 0");
    expect(within(dialog).getByLabelText("Agent audio")).toHaveTextContent("2.3 s · interrupted 1×");

    await userEvent.setup().click(within(dialog).getByRole("button", { name: "Hang up" }));
    expect(client.hangup).toHaveBeenCalled();
    act(() => on.state!("ended"));
    expect(within(dialog).getByRole("status")).toHaveTextContent("Call ended");
    expect(within(dialog).getByRole("link", { name: "Open the call's page" })).toHaveAttribute("href", "/calls/c-1");
  });

  it("says in plain words why the call could not go on", async () => {
    serve(false);
    const client = serverClient();
    renderWithApp(<WebCallPanel agentId={AGENT} compact />);
    await userEvent.setup().click(await screen.findByRole("button", { name: "Talk" }));
    await vi.waitFor(() => expect(client.calls).toHaveLength(1));
    const on = client.calls[0]!.on;
    act(() => {
      on.error!({ kind: "denied", message: "Microphone access was denied. Allow the microphone for this site, then try again." });
      on.state!("failed");
    });
    const dialog = screen.getByRole("dialog", { name: "Talk to this agent" });
    expect(within(dialog).getByRole("alert")).toHaveTextContent("Microphone access was denied");
    expect(within(dialog).queryByText("Draft: unsaved changes")).not.toBeInTheDocument();
    expect(within(dialog).queryByRole("link")).not.toBeInTheDocument();
  });
});
