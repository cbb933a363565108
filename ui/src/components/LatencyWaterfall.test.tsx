import { screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { renderWithApp } from "../test/render";
import { LatencyWaterfall, segmentsOf, turnTotal } from "./LatencyWaterfall";

// The welcome message: no caller turn before it, timed from the call's audio connecting.
const greeting = { index: 0, end_of_speech_ms: null, stt_final_ms: null, tts_first_audio_ms: 310, first_frame_out_ms: 330 };

const turn = {
  index: 1,
  end_of_speech_ms: 10_000,
  stt_final_ms: 10_180,
  llm_first_token_ms: 10_500,
  first_sentence_ms: 10_540,
  tts_first_audio_ms: 10_690,
  first_frame_out_ms: 10_710,
};

describe("segmentsOf", () => {
  it("splits a turn into consecutive stages measured from the end of speech", () => {
    expect(segmentsOf(turn)).toEqual([
      expect.objectContaining({ stage: "STT final", from: 0, to: 180 }),
      expect.objectContaining({ stage: "LLM first token", from: 180, to: 500 }),
      expect.objectContaining({ stage: "First sentence", from: 500, to: 540 }),
      expect.objectContaining({ stage: "TTS first audio", from: 540, to: 690 }),
      expect.objectContaining({ stage: "First frame out", from: 690, to: 710 }),
    ]);
    expect(turnTotal(turn)).toBe(710);
  });

  it("closes the gap of a missing mark onto the next known one", () => {
    const segments = segmentsOf({ ...turn, first_sentence_ms: null });
    expect(segments.map((s) => s.stage)).not.toContain("First sentence");
    expect(segments.find((s) => s.stage === "TTS first audio")).toMatchObject({ from: 500, to: 690 });
  });

  it("has nothing to show for a turn without an end of speech or a reply", () => {
    expect(segmentsOf({ index: 1 })).toEqual([]);
    expect(segmentsOf({ index: 4, tts_first_audio_ms: 100, first_frame_out_ms: 120, failed: true })).toEqual([]);
    expect(turnTotal({ index: 1, end_of_speech_ms: 5 })).toBeNull();
  });
});

describe("LatencyWaterfall", () => {
  it("draws a bar per measured turn and a table with each stage's duration", () => {
    renderWithApp(<LatencyWaterfall turns={[turn, { ...turn, index: 2, end_of_speech_ms: 20_000, stt_final_ms: 20_250, llm_first_token_ms: null, first_sentence_ms: null, tts_first_audio_ms: null, first_frame_out_ms: null, failed: true }]} />);
    expect(screen.getByTestId("waterfall-turn-1").querySelectorAll("[data-stage]")).toHaveLength(5);
    const table = screen.getByRole("table", { name: "Latency per turn" });
    const rows = within(table).getAllByRole("row");
    expect(rows).toHaveLength(3);
    expect(within(rows[1]!).getAllByRole("cell").map((c) => c.textContent)).toEqual(["Turn 1", "180 ms", "320 ms", "40 ms", "150 ms", "20 ms", "710 ms"]);
    expect(within(rows[2]!).getAllByRole("cell")[0]).toHaveTextContent("Turn 2 (failed)");
    expect(within(rows[2]!).getAllByRole("cell").at(-1)).toHaveTextContent("—");
  });

  it("times the greeting from the call's audio connecting to its first sound, the stages it skips as n/a", () => {
    expect(segmentsOf(greeting)).toEqual([
      expect.objectContaining({ stage: "TTS first audio", from: 0, to: 310 }),
      expect.objectContaining({ stage: "First frame out", from: 310, to: 330 }),
    ]);
    expect(turnTotal(greeting)).toBe(330);
    renderWithApp(<LatencyWaterfall turns={[greeting, turn]} />);
    expect(screen.getByTestId("waterfall-turn-0")).toHaveTextContent("Greeting");
    const rows = within(screen.getByRole("table", { name: "Latency per turn" })).getAllByRole("row");
    expect(within(rows[1]!).getAllByRole("cell").map((c) => c.textContent)).toEqual(["Greeting", "n/a", "n/a", "n/a", "310 ms", "20 ms", "330 ms"]);
    expect(within(rows[2]!).getAllByRole("cell")[0]).toHaveTextContent("Turn 1");
  });

  it("says so when no turn was measured", () => {
    renderWithApp(<LatencyWaterfall turns={[]} />);
    expect(screen.getByText("No latency measured")).toBeInTheDocument();
  });
});
