import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { tokenStore } from "../api/client";
import { AGENT_ID as AGENT, CAMPAIGN, CAMPAIGN_ID as ID, TRUNK_ID as TRUNK, me } from "../test/fixtures";
import { fakeApi, renderWithApp } from "../test/render";
import { CampaignsPage } from "./CampaignsPage";

const PROGRESS = {
  status: "running", leads: { pending: 7, reached: 3 }, total_leads: 10,
  dispositions: { human: 3, busy: 2, in_progress: 1 }, attempts: 6, dial_rate_per_minute: 4, answer_rate: 0.6, cost: { total: 0.42, currency: "USD", priced_calls: 5, pending_calls: 1, calls_with_unpriced_usage: 0 },
};

describe("CampaignsPage", () => {
  it("shows each campaign's live counts and pauses it", async () => {
    tokenStore.set("tok");
    const api = fakeApi({
      "GET /api/v1/auth/me": me,
      "GET /api/v1/campaigns": { items: [CAMPAIGN], total: 1, limit: 20, offset: 0 },
      [`GET /api/v1/campaigns/${ID}/progress`]: PROGRESS,
      [`POST /api/v1/campaigns/${ID}/pause`]: { ...CAMPAIGN, status: "paused" },
    });
    vi.stubGlobal("fetch", api.fetch);
    renderWithApp(<CampaignsPage />);
    const card = await screen.findByRole("article", { name: "Reminders" });
    await waitFor(() => expect(card).toHaveTextContent("Leads (10)"));
    expect(card).toHaveTextContent("Pending: 7");
    expect(card).toHaveTextContent("In progress: 1");
    expect(card).toHaveTextContent("Answered by a person: 3");
    expect(card).toHaveTextContent("Answered: 60%");
    expect(card).toHaveTextContent("Cost so far: $0.42");
    expect(card).toHaveTextContent("Ended calls still to be priced: 1");
    expect(within(card).getByRole("link", { name: "Reminders" })).toHaveAttribute("href", `/campaigns/${ID}`);
    await userEvent.setup().click(await within(card).findByRole("button", { name: "Pause" }));
    await waitFor(() => expect(api.calls.map((c) => `${c.method} ${c.path}`)).toContain(`POST /api/v1/campaigns/${ID}/pause`));
  });

  it("asks before cancelling, and a viewer has no buttons", async () => {
    tokenStore.set("tok");
    const api = fakeApi({
      "GET /api/v1/auth/me": me,
      "GET /api/v1/campaigns": { items: [CAMPAIGN], total: 1, limit: 20, offset: 0 },
      [`GET /api/v1/campaigns/${ID}/progress`]: PROGRESS,
      [`POST /api/v1/campaigns/${ID}/cancel`]: { ...CAMPAIGN, status: "cancelled" },
    });
    vi.stubGlobal("fetch", api.fetch);
    const view = renderWithApp(<CampaignsPage />);
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Cancel" }));
    const dialog = await screen.findByRole("dialog", { name: "Cancel Reminders?" });
    await user.click(within(dialog).getByRole("button", { name: "Keep it" }));
    expect(api.calls.some((c) => c.method === "POST")).toBe(false);
    await user.click(screen.getByRole("button", { name: "Cancel" }));
    await user.click(within(await screen.findByRole("dialog")).getByRole("button", { name: "Cancel campaign" }));
    await waitFor(() => expect(api.calls.map((c) => `${c.method} ${c.path}`)).toContain(`POST /api/v1/campaigns/${ID}/cancel`));
    view.unmount();

    vi.stubGlobal("fetch", fakeApi({
      "GET /api/v1/auth/me": { ...me, role: "viewer" },
      "GET /api/v1/campaigns": { items: [CAMPAIGN], total: 1, limit: 20, offset: 0 },
      [`GET /api/v1/campaigns/${ID}/progress`]: PROGRESS,
    }).fetch);
    renderWithApp(<CampaignsPage />);
    const card = await screen.findByRole("article", { name: "Reminders" });
    await waitFor(() => expect(card).toHaveTextContent("Leads (10)"));
    expect(within(card).queryByRole("button")).toBeNull();
    expect(screen.queryByRole("button", { name: "New campaign" })).toBeNull();
  });

  it("creates a campaign through the form and shows the API's refusal next to its field", async () => {
    tokenStore.set("tok");
    let refused = false;
    const api = fakeApi({
      "GET /api/v1/auth/me": me,
      "GET /api/v1/campaigns": { items: [], total: 0, limit: 20, offset: 0 },
      "GET /api/v1/agents": { items: [{ id: AGENT, name: "Reception", inbound_numbers: ["+4930123456"] }], total: 1, limit: 200, offset: 0 },
      "GET /api/v1/sip-trunks": { items: [{ id: TRUNK, name: "carrier", max_calls: 10, max_cps: 2 }], total: 1, limit: 200, offset: 0 },
    });
    const fetch = async (input: Request | string | URL, init?: RequestInit) => {
      const request = input instanceof Request ? input : new Request(input, init);
      if (request.method === "POST" && new URL(request.url).pathname === "/api/v1/campaigns") {
        await api.fetch(request.clone());
        const body = refused
          ? { ...CAMPAIGN, status: "draft", name: "New year" }
          : { title: "Unprocessable Content", status: 422, detail: "…", errors: [{ field: "default_timezone", reason: "not a time zone name (e.g. Europe/Paris)" }] };
        const status = refused ? 201 : 422;
        refused = true;
        return new Response(JSON.stringify(body), { status, headers: { "content-type": status === 201 ? "application/json" : "application/problem+json" } });
      }
      return api.fetch(request);
    };
    vi.stubGlobal("fetch", fetch);
    renderWithApp(<CampaignsPage />);
    const user = userEvent.setup({ delay: null });
    expect(await screen.findByText("No campaigns yet")).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "New campaign" }));
    const dialog = await screen.findByRole("dialog", { name: "New campaign" });
    // Pasted, not typed: each keystroke re-filters the zone list, slow in jsdom on a loaded box.
    await user.click(await within(dialog).findByRole("textbox", { name: "Name" }));
    await user.paste("New year");
    const zone = within(dialog).getByRole("textbox", { name: /Time zone of a lead/ });
    await user.clear(zone);
    await user.paste("Mars/Olympus");
    await user.click(within(dialog).getByRole("button", { name: "Create campaign" }));
    await waitFor(() => expect(zone).toHaveAccessibleDescription("not a time zone name (e.g. Europe/Paris)"));
    await user.clear(zone);
    await user.paste("Europe/Berlin");
    await user.click(within(dialog).getByRole("button", { name: "Create campaign" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    const posts = api.calls.filter((c) => c.method === "POST");
    expect(posts).toHaveLength(2);
    expect(posts[1]!.body).toMatchObject({ name: "New year", agent_id: AGENT, trunk_id: TRUNK, default_timezone: "Europe/Berlin" });
  });
});
