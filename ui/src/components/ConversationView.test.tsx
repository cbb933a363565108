import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { renderWithApp } from "../test/render";
import { ConversationView } from "./ConversationView";
import { eventsOf, transcriptOf } from "../lib/calls";
import { toolCallsOf } from "../lib/toolCalls";

describe("ConversationView", () => {
  it("shows each utterance in order with who spoke, when, and interruptions", () => {
    const entries = transcriptOf([
      { role: "agent", text: "Hello, Acme Dental.", at_ms: 400 },
      { role: "caller", text: "Hi, I need to move my appointment", at_ms: 3_100 },
      { role: "agent", text: "Of course, which", at_ms: 65_000, interrupted: true },
      { role: "caller", text: "1", at_ms: 66_000, dtmf: true },
    ]);
    renderWithApp(<ConversationView entries={entries} />);
    const items = within(screen.getByRole("list", { name: "Transcript" })).getAllByRole("listitem");
    expect(items.map((i) => i.getAttribute("aria-label"))).toEqual(["Agent at 0:00", "Caller at 0:03", "Agent at 1:05", "Caller at 1:06"]);
    expect(items[1]).toHaveTextContent("Hi, I need to move my appointment");
    expect(within(items[2]!).getByText("interrupted")).toBeInTheDocument();
    expect(within(items[3]!).getByText("keypad")).toBeInTheDocument();
  });

  it("plays the recording from a line when its time is clicked", async () => {
    const onPlayFrom = vi.fn();
    renderWithApp(<ConversationView entries={transcriptOf([{ role: "caller", text: "Hi", at_ms: 3_100 }])} onPlayFrom={onPlayFrom} />);
    await userEvent.setup().click(screen.getByRole("button", { name: "Play the recording from 0:03" }));
    expect(onPlayFrom).toHaveBeenCalledWith(3_100);
  });

  it("drops malformed entries instead of failing", () => {
    expect(transcriptOf([{ role: "system", text: "x", at_ms: 1 }, { role: "agent" }, null, "text"])).toEqual([]);
  });

  it("shows each tool the agent called where it happened: name, arguments, result or failure, latency", () => {
    const entries = transcriptOf([
      { role: "caller", text: "Is Friday free?", at_ms: 2_000 },
      { role: "agent", text: "Let me check. Friday at ten is free.", at_ms: 4_000 },
      { role: "caller", text: "Book it", at_ms: 9_000 },
      { role: "agent", text: "The booking system is not answering.", at_ms: 16_000 },
    ]);
    const toolCalls = toolCallsOf(eventsOf([
      { kind: "stt.opened", at_ms: 10, detail: { vendor: "pocketsphinx" } },
      // Written when the tool answered: it started latency_ms earlier.
      { kind: "tool.call", at_ms: 4_900, detail: { name: "check_availability", id: "c1", arguments: '{"day":"Friday"}', result: '{"free":["10:00"]}', ok: "true", latency_ms: "420" } },
      { kind: "tool.call", at_ms: 15_500, detail: { name: "book", id: "c2", arguments: '{"day":"Friday","time":"10:00"}', result: "book is not answering (no reply within 5 s).", ok: "false", latency_ms: "5003" } },
    ]));
    renderWithApp(<ConversationView entries={entries} toolCalls={toolCalls} />);
    const items = within(screen.getByRole("list", { name: "Transcript" })).getAllByRole("listitem");
    expect(items.map((i) => i.getAttribute("aria-label"))).toEqual([
      "Caller at 0:02", "Agent at 0:04", "Tool check_availability at 0:04", "Caller at 0:09", "Tool book at 0:10", "Agent at 0:16",
    ]);
    const checked = items[2]!;
    expect(checked).toHaveTextContent("answered");
    expect(checked).toHaveTextContent("420 ms");
    expect(within(checked).getByText(/"day": "Friday"/)).toBeInTheDocument();
    expect(within(checked).getByText(/"free": \[/)).toBeInTheDocument();
    const failed = items[4]!;
    expect(within(failed).getByText("failed")).toBeInTheDocument();
    expect(within(failed).getByText("Failure")).toBeInTheDocument();
    expect(failed).toHaveTextContent("book is not answering (no reply within 5 s).");
    expect(failed).toHaveTextContent("5.0 s");
  });

  it("has an empty state", () => {
    renderWithApp(<ConversationView entries={[]} />);
    expect(screen.getByText("No transcript")).toBeInTheDocument();
  });
});
