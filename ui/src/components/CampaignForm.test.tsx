import { fireEvent, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { ApiProblem } from "../api/problem";
import type { Campaign } from "../lib/campaigns";
import { renderWithApp } from "../test/render";
import { CampaignForm } from "./CampaignForm";

const AGENT = "44444444-4444-4444-8444-444444444444";
const TRUNK = "55555555-5555-4555-8555-555555555555";
const agents = [{ id: AGENT, name: "Reminders", inbound_numbers: ["+4930123456", "+4930123457"] }];
const trunks = [{ id: TRUNK, name: "carrier", max_calls: 10, max_cps: 2 }];

describe("CampaignForm", () => {
  it("sends who calls, the pace, the window and the caller id as the API names them", async () => {
    const onSubmit = vi.fn().mockResolvedValue(undefined);
    renderWithApp(<CampaignForm agents={agents} trunks={trunks} onSubmit={onSubmit} onCancel={() => {}} />);
    const user = userEvent.setup({ delay: null });
    // Pasted, not typed: one render each rather than one per keystroke (the form is big).
    await user.click(screen.getByRole("textbox", { name: "Name" }));
    await user.paste("December reminders");
    await user.clear(screen.getByRole("textbox", { name: "Calls at once at most" }));
    await user.paste("4");
    await user.click(screen.getByRole("checkbox", { name: "Fri" }));
    await user.click(screen.getByRole("checkbox", { name: "Sat" }));
    fireEvent.change(screen.getByLabelText("From"), { target: { value: "10:00" } });
    fireEvent.change(screen.getByLabelText("Until"), { target: { value: "18:30" } });
    await user.click(screen.getByRole("textbox", { name: /Skip the public holidays of/ }));
    await user.paste("de");
    await user.type(screen.getByRole("textbox", { name: /Numbers to call from/ }), "+4930123456{Enter}");
    await user.click(screen.getByRole("button", { name: "Create campaign" }));
    await waitFor(() => expect(onSubmit).toHaveBeenCalledOnce());
    expect(onSubmit.mock.calls[0]![0]).toEqual({
      name: "December reminders", agent_id: AGENT, trunk_id: TRUNK, twilio: false,
      max_concurrency: 4, calls_per_second: 1,
      calling_window: { days: [1, 2, 3, 4, 6], start: "10:00", end: "18:30", holidays: "DE" },
      retry_rules: {
        busy: { retries: 2, after_s: 600 }, no_answer: { retries: 2, after_s: 3600 },
        failed: { retries: 1, after_s: 900 }, voicemail_no_message: { retries: 1, after_s: 14400 },
        ivr: { retries: 1, after_s: 14400 }, call_screening: { retries: 1, after_s: 7200 },
      },
      caller_ids: ["+4930123456"], default_timezone: "UTC", start_at: null,
    });
  });

  it("sends the retry rules in seconds and the start time as an instant", async () => {
    const onSubmit = vi.fn().mockResolvedValue(undefined);
    renderWithApp(<CampaignForm agents={agents} trunks={trunks} onSubmit={onSubmit} onCancel={() => {}} />);
    const user = userEvent.setup({ delay: null });
    await user.click(screen.getByRole("textbox", { name: "Name" }));
    await user.paste("Retried");
    await user.click(screen.getByRole("checkbox", { name: "Retry when failed" }));
    expect(screen.getByRole("textbox", { name: "Retries (failed)" })).toBeDisabled();
    await user.clear(screen.getByRole("textbox", { name: "Minutes later (busy)" }));
    await user.paste("5");
    fireEvent.change(screen.getByLabelText(/Start calling at/), { target: { value: "2026-12-24T09:00" } });
    await user.click(screen.getByRole("button", { name: "Create campaign" }));
    await waitFor(() => expect(onSubmit).toHaveBeenCalledOnce());
    expect(onSubmit.mock.calls[0]![0]).toMatchObject({
      retry_rules: {
        busy: { retries: 2, after_s: 300 }, no_answer: { retries: 2, after_s: 3600 },
        voicemail_no_message: { retries: 1, after_s: 14400 },
      },
      start_at: new Date(2026, 11, 24, 9, 0).toISOString(),
    });
    expect(onSubmit.mock.calls[0]![0].retry_rules).not.toHaveProperty("failed");
  });

  it("keeps within the trunk's caps and a sane window before asking the API", async () => {
    const onSubmit = vi.fn();
    renderWithApp(<CampaignForm agents={agents} trunks={trunks} onSubmit={onSubmit} onCancel={() => {}} />);
    const user = userEvent.setup({ delay: null });
    await user.type(screen.getByRole("textbox", { name: "Name" }), "too fast");
    await user.clear(screen.getByRole("textbox", { name: "Calls at once at most" }));
    await user.type(screen.getByRole("textbox", { name: "Calls at once at most" }), "11");
    fireEvent.change(screen.getByLabelText("Until"), { target: { value: "08:00" } });
    await user.click(screen.getByRole("button", { name: "Create campaign" }));
    await waitFor(() => expect(screen.getByRole("textbox", { name: "Calls at once at most" }))
      .toHaveAccessibleDescription("The trunk allows 10 calls at once at most"));
    expect(screen.getByLabelText("Until")).toHaveAccessibleDescription(/must end after it starts/);
    expect(onSubmit).not.toHaveBeenCalled();
  });

  it("puts each field the API refused next to that field", async () => {
    const onSubmit = vi.fn().mockRejectedValue(new ApiProblem(422, "Unprocessable Content", "…", [
      { field: "caller_ids[0]", reason: "+15550009999 is not one of your numbers" },
      { field: "calling_window.holidays", reason: "no holiday calendar for country 'XX'" },
      { field: "retry_rules.busy.after_s", reason: "Expected `int` <= 2592000" },
      { field: "twilio", reason: "the agent has no Twilio number to call from" },
    ]));
    renderWithApp(<CampaignForm agents={agents} trunks={trunks} onSubmit={onSubmit} onCancel={() => {}} />);
    const user = userEvent.setup({ delay: null });
    await user.type(screen.getByRole("textbox", { name: "Name" }), "refused");
    await user.click(screen.getByRole("radio", { name: "Twilio" }));
    expect(screen.queryByRole("textbox", { name: "SIP trunk" })).toBeNull();
    await user.click(screen.getByRole("button", { name: "Create campaign" }));
    await waitFor(() => expect(screen.getByRole("textbox", { name: /Skip the public holidays of/ }))
      .toHaveAccessibleDescription(/no holiday calendar/));
    // The first field in error takes the focus, as after the form's own checks.
    await waitFor(() => expect(screen.getByRole("textbox", { name: /Skip the public holidays of/ })).toHaveFocus());
    expect(screen.getByRole("textbox", { name: /Numbers to call from/ })).toHaveAccessibleDescription(/not one of your numbers/);
    expect(screen.getByRole("textbox", { name: "Minutes later (busy)" })).toHaveAccessibleDescription(/2592000/);
    expect(screen.getByText("the agent has no Twilio number to call from")).toBeInTheDocument();
    expect(onSubmit.mock.calls[0]![0]).toMatchObject({ trunk_id: null, twilio: true });
    expect(screen.getAllByRole("alert")[0]).toHaveTextContent("Please correct the highlighted fields.");
  });

  it("edits a campaign from its stored settings", async () => {
    const onSubmit = vi.fn().mockResolvedValue(undefined);
    const campaign: Campaign = {
      id: "c", name: "Survey", agent_id: AGENT, trunk_id: TRUNK, twilio: false, status: "paused", start_at: null,
      max_concurrency: 3, calls_per_second: 0.5, calling_window: { days: [6, 7], start: "11:00", end: "13:00", holidays: "FR" },
      retry_rules: { no_answer: { retries: 4, after_s: 1800 } }, caller_ids: ["+4930123457"], default_timezone: "Europe/Paris",
      started_at: null, completed_at: null, created_at: "2026-12-01T09:00:00Z",
    };
    renderWithApp(<CampaignForm campaign={campaign} agents={agents} trunks={trunks} onSubmit={onSubmit} onCancel={() => {}} />);
    expect(screen.getByRole("checkbox", { name: "Retry when busy" })).not.toBeChecked();
    await userEvent.setup({ delay: null }).click(screen.getByRole("button", { name: "Save campaign" }));
    await waitFor(() => expect(onSubmit).toHaveBeenCalledOnce());
    expect(onSubmit.mock.calls[0]![0]).toEqual({
      name: "Survey", agent_id: AGENT, trunk_id: TRUNK, twilio: false, max_concurrency: 3, calls_per_second: 0.5,
      calling_window: { days: [6, 7], start: "11:00", end: "13:00", holidays: "FR" },
      retry_rules: { no_answer: { retries: 4, after_s: 1800 } }, caller_ids: ["+4930123457"],
      default_timezone: "Europe/Paris", start_at: null,
    });
  });
});
