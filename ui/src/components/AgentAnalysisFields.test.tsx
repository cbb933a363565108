import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import type { Schemas } from "../api/client";
import { ApiProblem } from "../api/problem";
import { catalog, openaiProvider } from "../test/fixtures";
import { renderWithApp } from "../test/render";
import { AgentForm } from "./AgentForm";

const stored: Schemas["AgentOut"] = {
  id: "a", name: "Reception", system_prompt: "", welcome_message: "", welcome_interruptible: true, language: "en-US",
  stt: { vendor: "pocketsphinx", options: {} }, llm: { vendor: "scripted", options: {} }, tts: { vendor: "piper", options: {} },
  barge_in_sensitivity: "medium", end_of_speech_ms: null, turn_detection: "silence", smart_turn: null, vad: "webrtc", noise_suppression: "off", voicemail_policy: "hangup", voicemail_message: "", max_call_seconds: 1800,
  recording_enabled: false, recording_retention_days: 30, media_transport: null, tools: [], mcp_servers: [], call_tools: [],
  transfer: { enabled: false, mode: "blind", targets: [], ring_timeout_s: 25 }, inbound_numbers: [], created_at: "", updated_at: "",
  analysis: { enabled: false, success_criteria: "", schema: null, llm: null },
};

describe("AgentAnalysisFields", () => {
  it("turns analysis on with criteria and a schema written as JSON, and saves them", async () => {
    const onSubmit = vi.fn().mockResolvedValue(undefined);
    renderWithApp(<AgentForm agent={stored} vendors={catalog.vendors} providers={[openaiProvider]} onSubmit={onSubmit} />);
    const user = userEvent.setup();
    const section = screen.getByRole("group", { name: "Post-call analysis" });
    await user.click(within(section).getByRole("switch", { name: /Analyse each call/ }));
    await user.type(within(section).getByRole("textbox", { name: "Success criteria" }), "A booking was made.");
    const schema = within(section).getByRole("textbox", { name: "Data to extract (JSON schema)" });
    fireEvent.change(schema, { target: { value: '{"type": "object", "properties": {' } });
    expect(schema).toHaveAccessibleDescription(/Not valid JSON yet/);
    fireEvent.change(schema, { target: { value: '{"type": "object", "properties": {"day": {"type": "string"}}}' } });
    expect(schema).not.toHaveAccessibleDescription(/Not valid JSON yet/);
    await user.click(screen.getByRole("button", { name: "Save agent" }));
    await waitFor(() => expect(onSubmit).toHaveBeenCalled());
    expect(onSubmit).toHaveBeenCalledWith(expect.objectContaining({ analysis: {
      enabled: true,
      success_criteria: "A booking was made.",
      schema: { type: "object", properties: { day: { type: "string" } } },
      llm: null,
    } }));
  });

  it("shows the API's refusal of the schema under it", async () => {
    const onSubmit = vi.fn().mockRejectedValue(new ApiProblem(422, "Unprocessable Content", "x", [
      { field: "analysis.schema", reason: 'must be of type "object"' },
    ]));
    renderWithApp(<AgentForm vendors={catalog.vendors} providers={[openaiProvider]} onSubmit={onSubmit}
      agent={{ ...stored, analysis: { enabled: true, success_criteria: "", schema: { type: "array" }, llm: null } }} />);
    await userEvent.setup().click(screen.getByRole("button", { name: "Save agent" }));
    const schema = screen.getByRole("textbox", { name: "Data to extract (JSON schema)" });
    await waitFor(() => expect(schema).toHaveAccessibleDescription(/must be of type "object"/));
  });
});
