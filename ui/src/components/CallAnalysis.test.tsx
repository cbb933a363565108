import { screen } from "@testing-library/react";
import { useQuery } from "@tanstack/react-query";
import { describe, expect, it, vi } from "vitest";
import { api, type Schemas } from "../api/client";
import { unwrap } from "../api/problem";
import { renderWithApp } from "../test/render";
import { CallAnalysis } from "./CallAnalysis";

const call: Schemas["CallDetail"] = {
  id: "c1", agent_id: null, trunk_id: null, direction: "inbound", transport: "asterisk", from_number: "+1", to_number: "+2",
  status: "completed", outcome: "agent_ended", queued_at: null, started_at: null, answered_at: null, ended_at: new Date().toISOString(),
  duration_ms: 1000, error_reason: null, created_at: "", transcript: [], turns: [], events: [], provider_usage: {}, variables: {},
  stt_events: [], recording_url: null, live: false, analysis: null, cost: null,
};

const analysed: Partial<Schemas["CallDetail"]> = {
  analysis: {
    status: "done", vendor: "scripted", model: null, summary: "Topics: booking.", success: null, success_reason: null,
    data: { day: "tomorrow" }, data_error: null, unavailable: ["success"], unavailable_reason: "cannot judge success criteria", error: null, attempts: 1,
  },
  cost: {
    total: 0.0069, currency: "USD", unpriced: ["llm:kimi"],
    items: [
      { provider: "stt:deepgram", kind: "stt", vendor: "deepgram", model: "nova-3", audio_seconds: 70, characters: 0, input_tokens: 0, output_tokens: 0, amount: 0.0069, priced: true, offline: false },
      { provider: "tts:piper", kind: "tts", vendor: "piper", model: null, audio_seconds: 3, characters: 40, input_tokens: 0, output_tokens: 0, amount: 0, priced: true, offline: true },
      { provider: "llm:kimi", kind: "llm", vendor: "kimi", model: "kimi-k2.6", audio_seconds: 0, characters: 0, input_tokens: 10, output_tokens: 5, amount: 0, priced: false, offline: false },
    ],
  },
};

describe("CallAnalysis", () => {
  it("shows the summary, what was not evaluated and why, the data and the cost per provider", () => {
    renderWithApp(<CallAnalysis call={{ ...call, ...analysed }} />);
    expect(screen.getByTestId("analysis-summary")).toHaveTextContent("Topics: booking.");
    expect(screen.getByText("Not evaluated")).toBeInTheDocument();
    expect(screen.getByText("cannot judge success criteria")).toBeInTheDocument();
    expect(screen.getByTestId("analysis-data")).toHaveTextContent('"day": "tomorrow"');
    expect(screen.getByTestId("call-cost")).toHaveTextContent("$0.0069");
    expect(screen.getByText("offline")).toBeInTheDocument();
    expect(screen.getByText("no price")).toBeInTheDocument();
    expect(screen.getByText(/No price is known for llm:kimi/)).toBeInTheDocument();
  });

  it("says why an analysis failed", () => {
    const failed = { ...call, analysis: { status: "failed" as const, vendor: "openai", attempts: 3, error: "openai: timed out" } };
    renderWithApp(<CallAnalysis call={failed} />);
    expect(screen.getByTestId("analysis-failed")).toHaveTextContent("openai: timed out (3 attempts)");
  });

  it("asks for a call that just ended again until its analysis and cost arrive", async () => {
    const answers = [call, call, { ...call, ...analysed }];
    let asked = 0;
    vi.stubGlobal("fetch", async () => {
      const body = answers[Math.min(asked, answers.length - 1)];
      asked += 1;
      return new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json" } });
    });
    function Page() {
      const query = useQuery({
        queryKey: ["call", "c1"],
        queryFn: () => unwrap(api.GET("/api/v1/calls/{call_id}", { params: { path: { call_id: "c1" } } })),
      });
      return query.data ? <CallAnalysis call={query.data} /> : null;
    }
    renderWithApp(<Page />);
    expect(await screen.findByText("Analysing the call…")).toBeInTheDocument();
    expect(await screen.findByTestId("call-cost", {}, { timeout: 6_000 })).toHaveTextContent("$0.0069");
    expect(asked).toBe(3);
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(asked).toBe(3);
  }, 15_000);

  it("shows nothing of a call still in progress", () => {
    const { container } = renderWithApp(<CallAnalysis call={{ ...call, live: true }} />);
    expect(container).not.toHaveTextContent("Post-call analysis");
  });
});
