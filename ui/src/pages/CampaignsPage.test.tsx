import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { tokenStore } from "../api/client";
import { fakeApi, renderWithApp } from "../test/render";
import { CampaignsPage } from "./CampaignsPage";

const ID = "5b0c6a52-8f3e-4a4e-9d7e-0d8f5c1e2a10";
const CAMPAIGN = {
  id: ID, name: "Reminders", agent_id: ID, trunk_id: ID, twilio: false, status: "running", start_at: null,
  max_concurrency: 5, calls_per_second: 1, calling_window: {}, retry_rules: {}, caller_ids: [],
  default_timezone: "UTC", started_at: null, completed_at: null, created_at: "2026-12-05T09:00:00Z",
};

describe("CampaignsPage", () => {
  it("shows each campaign's live counts and pauses it", async () => {
    tokenStore.set("tok");
    const api = fakeApi({
      "GET /api/v1/campaigns": { items: [CAMPAIGN], total: 1, limit: 50, offset: 0 },
      [`GET /api/v1/campaigns/${ID}/progress`]: {
        status: "running", leads: { pending: 7, reached: 3 }, total_leads: 10,
        dispositions: { human: 3, busy: 2, in_progress: 1 }, attempts: 6, dial_rate_per_minute: 4, answer_rate: 0.6,
      },
      [`POST /api/v1/campaigns/${ID}/pause`]: { ...CAMPAIGN, status: "paused" },
    });
    vi.stubGlobal("fetch", api.fetch);
    renderWithApp(<CampaignsPage />);
    const card = await screen.findByRole("article", { name: "Reminders" });
    await waitFor(() => expect(card).toHaveTextContent("Leads (10)"));
    expect(card).toHaveTextContent("pending: 7");
    expect(card).toHaveTextContent("in progress: 1");
    expect(card).toHaveTextContent("Answered: 60%");
    await userEvent.setup().click(screen.getByRole("button", { name: "Pause" }));
    await waitFor(() => expect(api.calls.map((c) => `${c.method} ${c.path}`)).toContain(`POST /api/v1/campaigns/${ID}/pause`));
  });
});
