import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { Route, Routes } from "react-router";
import { describe, expect, it, vi } from "vitest";
import { tokenStore } from "../api/client";
import { AGENT_ID, CAMPAIGN, CAMPAIGN_ID as ID, TRUNK_ID, me } from "../test/fixtures";
import { fakeApi, renderWithApp } from "../test/render";
import { CampaignDetailPage } from "./CampaignDetailPage";

const CALL = "66666666-6666-4666-8666-666666666666";
const LEAD = {
  id: "77777777-7777-4777-8777-777777777777", number: "+14155550100", timezone: "America/Los_Angeles",
  variables: { first_name: "Ada" }, state: "pending", attempts: 1, last_disposition: "busy",
  next_attempt_at: "2026-12-05T10:10:00Z",
  history: [{ attempt: 1, caller_id: "+4930123456", dialled_at: "2026-12-05T10:00:00Z", disposition: "busy", call_id: CALL }],
};
const PAGE = { items: [LEAD], total: 1, limit: 25, offset: 0 };

/** The fake API, with `key` answered by `answers` in turn (a status and body each). */
function api(answers: Record<string, { status: number; body: unknown }[]> = {}, campaign = CAMPAIGN) {
  const fake = fakeApi({
    "GET /api/v1/auth/me": me,
    [`GET /api/v1/campaigns/${ID}`]: campaign,
    [`GET /api/v1/campaigns/${ID}/progress`]: {
      status: campaign.status, leads: { pending: 1 }, total_leads: 1, dispositions: { busy: 1 }, attempts: 1,
      dial_rate_per_minute: 1, answer_rate: 0, cost: { total: 0.42, currency: "USD", priced_calls: 5, pending_calls: 1, calls_with_unpriced_usage: 0 },
    },
    [`GET /api/v1/campaigns/${ID}/leads`]: PAGE,
    "GET /api/v1/agents": { items: [{ id: AGENT_ID, name: "Reception", inbound_numbers: ["+4930123456"] }], total: 1, limit: 200, offset: 0 },
    "GET /api/v1/sip-trunks": { items: [{ id: TRUNK_ID, name: "carrier", max_calls: 10, max_cps: 2 }], total: 1, limit: 200, offset: 0 },
  });
  const fetch = async (input: Request | string | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(input, init);
    const queue = answers[`${request.method} ${new URL(request.url).pathname}`];
    const answer = queue?.shift();
    if (!answer) return fake.fetch(request);
    await fake.fetch(request.clone());
    const type = answer.status >= 400 ? "application/problem+json" : "application/json";
    return new Response(JSON.stringify(answer.body), { status: answer.status, headers: { "content-type": type } });
  };
  return { fetch, calls: fake.calls };
}

function renderPage() {
  return renderWithApp(
    <Routes><Route path="/campaigns/:campaignId" element={<CampaignDetailPage />} /></Routes>,
    { route: `/campaigns/${ID}` },
  );
}

describe("CampaignDetailPage", () => {
  it("lists the leads with each attempt linked to its call, filtered by state and outcome", async () => {
    tokenStore.set("tok");
    const fake = api();
    vi.stubGlobal("fetch", fake.fetch);
    renderPage();
    expect(await screen.findByRole("heading", { name: "Reminders" })).toBeInTheDocument();
    const leads = await screen.findByRole("table", { name: "Leads" });
    const row = within(leads).getByRole("row", { name: /\+14155550100/ });
    expect(row).toHaveTextContent("America/Los_Angeles");
    expect(row).toHaveTextContent("first_name=Ada");
    expect(row).toHaveTextContent("Due");
    expect(within(row).getByRole("link", { name: /#1 Busy/ })).toHaveAttribute("href", `/calls/${CALL}`);
    expect(screen.getByText("Busy ×2 after 10 min")).toBeInTheDocument();

    const user = userEvent.setup({ delay: null });
    await user.click(screen.getByRole("textbox", { name: "State" }));
    await user.click(await screen.findByRole("option", { name: "Pending" }));
    await user.click(screen.getByRole("textbox", { name: "Last outcome" }));
    await user.click(await screen.findByRole("option", { name: "No answer" }));
    await waitFor(() => expect(fake.calls.map((c) => c.path)).toContain(
      `/api/v1/campaigns/${ID}/leads?limit=25&offset=0&state=pending&disposition=no_answer`,
    ));
    // A running campaign is paused before its settings change.
    expect(screen.queryByRole("button", { name: "Edit" })).toBeNull();
    expect(screen.getByText("Pause the campaign to change its settings.")).toBeInTheDocument();
  });

  it("imports pasted leads, listing every bad row by line when refused", async () => {
    tokenStore.set("tok");
    const fake = api({
      [`POST /api/v1/campaigns/${ID}/leads/import`]: [
        { status: 422, body: { title: "Unprocessable Content", status: 422, detail: "…", errors: [
          { field: "csv.line[4].number", reason: "'12' has the wrong number of digits" },
          { field: "csv.line[3].number", reason: "'hello' is not a phone number" },
        ] } },
        { status: 201, body: { added: 2, duplicates: 1 } },
      ],
    });
    vi.stubGlobal("fetch", fake.fetch);
    renderPage();
    const form = await screen.findByRole("form", { name: "Import leads" });
    const user = userEvent.setup({ delay: null });
    await user.click(within(form).getByRole("radio", { name: "Paste" }));
    const csv = within(form).getByRole("textbox", { name: /CSV text/ });
    await user.click(csv);
    await user.paste("number,first_name\n+14155550100,Ada\nhello,Bob\n12,Cy\n");
    await user.type(within(form).getByRole("textbox", { name: /Country of numbers/ }), "us");
    await user.click(within(form).getByRole("button", { name: "Import" }));
    const report = await within(form).findByRole("table", { name: "Rows to correct" });
    const rows = within(report).getAllByRole("row").slice(1).map((r) => r.textContent);
    expect(rows).toEqual(["3number'hello' is not a phone number", "4number'12' has the wrong number of digits"]);
    expect(within(form).getByRole("alert")).toHaveTextContent("Nothing was imported: 2 rows to correct.");
    expect(fake.calls.find((c) => c.method === "POST")?.body).toEqual({
      csv: "number,first_name\n+14155550100,Ada\nhello,Bob\n12,Cy\n", region: "US",
    });

    await user.click(within(form).getByRole("button", { name: "Import" }));
    expect(await within(form).findByText("2 leads added, 1 already in the campaign.")).toBeInTheDocument();
    expect(within(form).queryByRole("table", { name: "Rows to correct" })).toBeNull();
  });

  it("edits a paused campaign's settings", async () => {
    tokenStore.set("tok");
    const paused = { ...CAMPAIGN, status: "paused" };
    const fake = api({ [`PUT /api/v1/campaigns/${ID}`]: [{ status: 200, body: { ...paused, max_concurrency: 8 } }] }, paused);
    vi.stubGlobal("fetch", fake.fetch);
    renderPage();
    const user = userEvent.setup({ delay: null });
    await user.click(await screen.findByRole("button", { name: "Edit" }));
    const dialog = await screen.findByRole("dialog", { name: "Edit Reminders" });
    const cap = await within(dialog).findByRole("textbox", { name: "Calls at once at most" });
    await user.clear(cap);
    await user.type(cap, "8");
    await user.click(within(dialog).getByRole("button", { name: "Save campaign" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    expect(fake.calls.find((c) => c.method === "PUT")?.body).toMatchObject({ name: "Reminders", max_concurrency: 8, trunk_id: TRUNK_ID });
    expect(await screen.findByText("8 at once · 1/s")).toBeInTheDocument();
  });
});
