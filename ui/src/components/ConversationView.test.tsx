import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { renderWithApp } from "../test/render";
import { ConversationView } from "./ConversationView";
import { transcriptOf } from "../lib/calls";

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

  it("has an empty state", () => {
    renderWithApp(<ConversationView entries={[]} />);
    expect(screen.getByText("No transcript")).toBeInTheDocument();
  });
});
