import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import type { Schemas } from "../api/client";
import { ApiProblem } from "../api/problem";
import { catalog } from "../test/fixtures";
import { renderWithApp } from "../test/render";
import { AgentForm } from "./AgentForm";
import { parametersError } from "./ToolsEditor";

const tool: Schemas["AgentToolOut"] = {
  name: "check_availability", description: "Free slots on a day.", method: "POST", url: "https://booking.example.com/slots",
  parameters: { type: "object", properties: { day: { type: "string" } } }, timeout_s: 5, filler: "Let me look.", filler_after_s: 1,
  headers: [{ name: "Authorization", hint: "cdef" }],
};
const stored: Schemas["AgentOut"] = {
  id: "a", name: "Reception", system_prompt: "", welcome_message: "", welcome_interruptible: true, language: "en-US",
  stt: { vendor: "pocketsphinx", options: {} }, llm: { vendor: "scripted", options: {} }, tts: { vendor: "piper", options: {} },
  barge_in_sensitivity: "medium", end_of_speech_ms: null, turn_detection: "silence", smart_turn: null, vad: "webrtc", noise_suppression: "off", voicemail_policy: "hangup", voicemail_message: "", max_call_seconds: 1800,
  recording_enabled: false, recording_retention_days: 30, media_transport: null, tools: [tool], mcp_servers: [], call_tools: [],
  transfer: { enabled: false, mode: "blind", targets: [], ring_timeout_s: 25 }, inbound_numbers: [], created_at: "", updated_at: "",
  analysis: { enabled: false, success_criteria: "", schema: null, llm: null },
};

function renderForm(onSubmit: (body: Schemas["AgentCreate"]) => Promise<unknown>) {
  renderWithApp(<AgentForm agent={stored} vendors={catalog.vendors} providers={[]} onSubmit={onSubmit} />);
  return screen.getByRole("region", { name: "Tool check_availability" });
}

describe("ToolsEditor", () => {
  it("says what is wrong with a parameters schema", () => {
    expect(parametersError('{"type": "object"}')).toBeNull();
    expect(parametersError('{"type": "object",}')).toMatch(/^Not valid JSON: /);
    expect(parametersError('{"type": "string"}')).toMatch(/^Must be a JSON schema of type object/);
    expect(parametersError("[]")).toMatch(/^Must be a JSON schema of type object/);
  });

  it("keeps a stored header secret, refuses broken JSON under its field, and sends the tools as the API takes them", async () => {
    const onSubmit = vi.fn().mockResolvedValue(undefined);
    const region = renderForm(onSubmit);
    const user = userEvent.setup();
    // The stored value is never shown, only its end.
    expect(within(region).getByText("Stored, ends in cdef; type to replace")).toBeInTheDocument();
    expect(within(region).getByLabelText("Header 1 value")).toHaveValue("");

    const parameters = within(region).getByRole("textbox", { name: "Parameters (JSON schema)" });
    fireEvent.change(parameters, { target: { value: '{"type": "object", "properties": {' } });
    await user.click(within(region).getByRole("button", { name: "Add a header to check_availability" }));
    await user.type(within(region).getByRole("textbox", { name: "Header 2 name" }), "X-Shop");
    await user.click(screen.getByRole("button", { name: "Save agent" }));
    await waitFor(() => expect(parameters).toHaveAccessibleDescription(/Not valid JSON/));
    expect(within(region).getByLabelText("Header 2 value")).toHaveAccessibleDescription("Enter the value");
    expect(onSubmit).not.toHaveBeenCalled();

    fireEvent.change(parameters, { target: { value: '{"type": "object", "properties": {"day": {"type": "string"}}, "required": ["day"]}' } });
    await user.type(within(region).getByLabelText("Header 2 value"), "42");
    await user.click(screen.getByRole("button", { name: "Save agent" }));
    await waitFor(() => expect(onSubmit).toHaveBeenCalledOnce());
    const [body] = onSubmit.mock.calls[0]!;
    expect(body.tools).toEqual([{
      name: "check_availability", description: "Free slots on a day.", method: "POST", url: "https://booking.example.com/slots",
      parameters: { type: "object", properties: { day: { type: "string" } }, required: ["day"] }, timeout_s: 5,
      filler: "Let me look.", filler_after_s: 1,
      // No value: the server keeps the stored one.
      headers: [{ name: "Authorization", value: null }, { name: "X-Shop", value: "42" }],
    }]);
  });

  it("adds and removes tools, and shows the API's refusal next to the field it names", async () => {
    const onSubmit = vi.fn().mockRejectedValue(new ApiProblem(422, "Unprocessable Content", "tools[1].url: refused", [
      { field: "tools[1].url", reason: "points at a non-public address and private destinations are not allowed" },
      { field: "tools[0].headers[0].value", reason: "enter the value again: the tool now calls another address" },
    ]));
    renderForm(onSubmit);
    const user = userEvent.setup();
    await user.click(screen.getByRole("button", { name: "Add tool" }));
    const added = screen.getByRole("region", { name: "Tool Tool 2" });
    fireEvent.change(within(added).getByRole("textbox", { name: "Name" }), { target: { value: "book_slot" } });
    const region = screen.getByRole("region", { name: "Tool book_slot" });
    fireEvent.change(within(region).getByRole("textbox", { name: "Description" }), { target: { value: "Books a slot." } });
    fireEvent.change(within(region).getByRole("textbox", { name: "URL" }), { target: { value: "http://10.0.0.5/book" } });
    await user.click(screen.getByRole("button", { name: "Save agent" }));
    await waitFor(() => expect(within(region).getByRole("textbox", { name: "URL" }))
      .toHaveAccessibleDescription("points at a non-public address and private destinations are not allowed"));
    const first = screen.getByRole("region", { name: "Tool check_availability" });
    expect(within(first).getByLabelText("Header 1 value")).toHaveAccessibleDescription(/enter the value again/);
    expect(onSubmit.mock.calls[0]![0].tools).toHaveLength(2);

    await user.click(within(region).getByRole("button", { name: "Remove tool book_slot" }));
    expect(screen.queryByRole("region", { name: "Tool book_slot" })).toBeNull();
    await user.click(within(first).getByRole("button", { name: "Remove header Authorization" }));
    expect(within(first).queryByLabelText("Header 1 value")).toBeNull();
  });
});
