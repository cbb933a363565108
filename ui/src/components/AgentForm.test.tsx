import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import type { Schemas } from "../api/client";
import { ApiProblem } from "../api/problem";
import { catalog, openaiProvider } from "../test/fixtures";
import { Link, useLocation } from "react-router";
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

async function pick(group: HTMLElement, label: string, option: RegExp) {
  const user = userEvent.setup();
  await user.click(within(group).getByRole("textbox", { name: label }));
  await user.click(await screen.findByRole("option", { name: option }));
}

function Where() {
  return <p aria-label="Location">{useLocation().pathname}</p>;
}

describe("AgentForm", () => {
  function renderAt(onSubmit: () => Promise<unknown>) {
    renderWithApp(<><Where /><Link to="/calls">Calls</Link>
      <AgentForm agent={stored} vendors={catalog.vendors} providers={[openaiProvider]} onSubmit={onSubmit} /></>, { route: "/agents/a" });
  }

  it("asks before edits are lost to a move to another page", async () => {
    renderAt(vi.fn());
    const user = userEvent.setup();
    await user.type(screen.getByRole("textbox", { name: "Name" }), " desk");
    await user.click(screen.getByRole("link", { name: "Calls" }));
    expect(await screen.findByRole("dialog", { name: "Leave without saving?" })).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Keep editing" }));
    expect(screen.getByLabelText("Location")).toHaveTextContent("/agents/a");
    expect(screen.getByRole("textbox", { name: "Name" })).toHaveValue("Reception desk");
    await user.click(screen.getByRole("link", { name: "Calls" }));
    await user.click(await screen.findByRole("button", { name: "Discard changes" }));
    await waitFor(() => expect(screen.getByLabelText("Location")).toHaveTextContent("/calls"));
  });

  it("lets an untouched or saved form go without asking", async () => {
    const onSubmit = vi.fn().mockResolvedValue(undefined);
    renderAt(onSubmit);
    const user = userEvent.setup();
    await user.type(screen.getByRole("textbox", { name: "Name" }), " desk");
    await user.click(screen.getByRole("button", { name: "Save agent" }));
    await waitFor(() => expect(onSubmit).toHaveBeenCalledOnce());
    await user.click(screen.getByRole("link", { name: "Calls" }));
    expect(screen.getByLabelText("Location")).toHaveTextContent("/calls");
    expect(screen.queryByRole("dialog")).toBeNull();
  });

  it("builds every field of a new agent from the catalog's vendors and the stored providers", async () => {
    const onSubmit = vi.fn().mockResolvedValue(undefined);
    renderWithApp(<AgentForm vendors={catalog.vendors} providers={[openaiProvider]} onSubmit={onSubmit} />);
    const user = userEvent.setup();
    await user.type(screen.getByRole("textbox", { name: "Name" }), "Reception");
    await user.type(screen.getByRole("textbox", { name: "System prompt" }), "Be brief.");
    const stt = screen.getByRole("group", { name: /Speech to text/ });
    // Without a stored provider only key-less vendors are offered.
    await user.click(within(stt).getByRole("textbox", { name: "Vendor" }));
    expect(screen.queryByRole("option", { name: "Deepgram" })).toBeNull();
    await user.click(await screen.findByRole("option", { name: /PocketSphinx/ }));
    await pick(screen.getByRole("group", { name: /Language model/ }), "Provider", /OpenAI production/);
    const tts = screen.getByRole("group", { name: /Text to speech/ });
    await pick(tts, "Vendor", /Piper/);
    await user.click(within(tts).getByRole("button", { name: /Show Piper .* options/ }));
    await user.type(within(tts).getByRole("textbox", { name: "Length scale" }), "1.2");
    await user.click(screen.getByRole("radio", { name: "Very high" }));
    await user.type(screen.getByRole("textbox", { name: "Numbers this agent answers" }), "+4930123456{enter}");
    await user.click(screen.getByRole("button", { name: "Create agent" }));

    await waitFor(() => expect(onSubmit).toHaveBeenCalledOnce());
    expect(onSubmit.mock.calls[0]![0]).toMatchObject({
      name: "Reception",
      system_prompt: "Be brief.",
      stt: { vendor: "pocketsphinx", options: {} },
      llm: { credential_id: openaiProvider.id, vendor: null },
      tts: { vendor: "piper", options: { length_scale: 1.2 } },
      barge_in_sensitivity: "very_high",
      inbound_numbers: ["+4930123456"],
      voicemail_policy: "hangup",
      media_transport: null,
    });
  });

  it("lets an agent choose its media transport or go back to the server default", async () => {
    const onSubmit = vi.fn().mockResolvedValue(undefined);
    renderWithApp(<AgentForm vendors={catalog.vendors} providers={[]} onSubmit={onSubmit} agent={{ ...stored, media_transport: "rtp" }} />);
    const user = userEvent.setup();
    const select = screen.getByRole("textbox", { name: "Media transport" });
    expect(select).toHaveValue("RTP");
    expect(select).toHaveAccessibleDescription(/UDP; for Asterisk hosts where TCP media is not wanted/);
    await user.click(screen.getByRole("button", { name: "Save agent" }));
    await waitFor(() => expect(onSubmit).toHaveBeenCalledTimes(1));
    expect(onSubmit.mock.calls[0]![0]).toMatchObject({ media_transport: "rtp" });

    await user.click(select);
    await user.click(await screen.findByRole("option", { name: "AudioSocket" }));
    expect(select).toHaveAccessibleDescription(/TCP; the simplest/);
    await user.click(screen.getByRole("button", { name: "Save agent" }));
    await waitFor(() => expect(onSubmit).toHaveBeenCalledTimes(2));
    expect(onSubmit.mock.calls[1]![0]).toMatchObject({ media_transport: "audiosocket" });

    await user.click(select);
    await user.click(await screen.findByRole("option", { name: "Server default" }));
    await user.click(screen.getByRole("button", { name: "Save agent" }));
    await waitFor(() => expect(onSubmit).toHaveBeenCalledTimes(3));
    expect(onSubmit.mock.calls[2]![0]).toMatchObject({ media_transport: null });
  });

  it("turns noise suppression on for an agent", async () => {
    const onSubmit = vi.fn().mockResolvedValue(undefined);
    renderWithApp(<AgentForm vendors={catalog.vendors} providers={[]} onSubmit={onSubmit} agent={stored} />);
    const user = userEvent.setup();
    const select = screen.getByRole("textbox", { name: "Noise suppression" });
    expect(select).toHaveValue("Off");
    await user.click(select);
    await user.click(await screen.findByRole("option", { name: /WebRTC/ }));
    await user.click(screen.getByRole("button", { name: "Save agent" }));
    await waitFor(() => expect(onSubmit).toHaveBeenCalledOnce());
    expect(onSubmit.mock.calls[0]![0]).toMatchObject({ noise_suppression: "webrtc" });
  });

  it("turns the built-in call tools on and off", async () => {
    const onSubmit = vi.fn().mockResolvedValue(undefined);
    renderWithApp(<AgentForm vendors={catalog.vendors} providers={[]} onSubmit={onSubmit} agent={{ ...stored, call_tools: ["end_call"] }} />);
    const user = userEvent.setup();
    const hangUp = screen.getByRole("checkbox", { name: /Hang up/ });
    expect(hangUp).toBeChecked();
    await user.click(screen.getByRole("checkbox", { name: /Press keys/ }));
    await user.click(hangUp);
    await user.click(screen.getByRole("button", { name: "Save agent" }));
    await waitFor(() => expect(onSubmit).toHaveBeenCalledOnce());
    expect(onSubmit.mock.calls[0]![0]).toMatchObject({ call_tools: ["send_dtmf"] });
  });

  it("shows the API's refusal of a nested option under that option", async () => {
    const onSubmit = vi.fn().mockRejectedValue(new ApiProblem(422, "Unprocessable Content", "x", [
      { field: "llm.options.temperature", reason: "must be at most 2" },
      { field: "name", reason: "an agent with this name exists" },
    ]));
    renderWithApp(<AgentForm vendors={catalog.vendors} providers={[openaiProvider]} onSubmit={onSubmit}
      agent={{ ...stored, llm: { credential_id: openaiProvider.id, options: { temperature: 5 } } }} />);
    await userEvent.setup().click(screen.getByRole("button", { name: "Save agent" }));
    const llm = screen.getByRole("group", { name: /Language model/ });
    await waitFor(() => expect(within(llm).getByRole("textbox", { name: "Temperature" })).toHaveAccessibleDescription(/must be at most 2/));
    expect(screen.getByRole("textbox", { name: "Name" })).toHaveAccessibleDescription("an agent with this name exists");
  });

  it("asks for the voicemail message when the policy is to leave one", async () => {
    const onSubmit = vi.fn();
    renderWithApp(<AgentForm vendors={catalog.vendors} providers={[]} onSubmit={onSubmit} />);
    const user = userEvent.setup();
    await user.click(screen.getByRole("textbox", { name: "When voicemail answers" }));
    await user.click(await screen.findByRole("option", { name: "Leave a message" }));
    await user.click(screen.getByRole("button", { name: "Create agent" }));
    expect(await screen.findByText("Write the message to leave")).toBeInTheDocument();
    expect(screen.getByText("Give the agent a name")).toBeInTheDocument();
    expect(onSubmit).not.toHaveBeenCalled();
  });

  it("repairs an agent whose provider was deleted with one choice", async () => {
    const onSubmit = vi.fn().mockResolvedValue(undefined);
    const orphan = { ...stored, stt: { credential_id: "99999999-9999-4999-8999-999999999999", vendor: null, options: {} } };
    renderWithApp(<AgentForm vendors={catalog.vendors} providers={[openaiProvider]} onSubmit={onSubmit} agent={orphan} />);
    const stt = screen.getByRole("group", { name: /Speech to text/ });
    expect(within(stt).getByText(/The provider this agent used was deleted/)).toBeInTheDocument();
    await pick(stt, "Vendor", /PocketSphinx/);
    await userEvent.setup().click(screen.getByRole("button", { name: "Save agent" }));
    await waitFor(() => expect(onSubmit).toHaveBeenCalledOnce());
    expect(onSubmit.mock.calls[0]![0]).toMatchObject({ stt: { credential_id: null, vendor: "pocketsphinx" } });
  });

  it("is read-only for viewers", () => {
    renderWithApp(<AgentForm vendors={catalog.vendors} providers={[]} onSubmit={vi.fn()} readOnly />);
    expect(screen.getByRole("textbox", { name: "Name" })).toBeDisabled();
    expect(screen.queryByRole("button", { name: "Create agent" })).toBeNull();
  });
});
