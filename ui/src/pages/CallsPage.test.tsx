import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { tokenStore } from "../api/client";
import { fakeApi, renderWithApp } from "../test/render";
import { CallsPage } from "./CallsPage";

const call = {
  id: "66666666-6666-4666-8666-666666666666", agent_id: "77777777-7777-4777-8777-777777777777", trunk_id: null,
  direction: "inbound", transport: "asterisk", from_number: "+4915112345678", to_number: "+4930123456",
  status: "completed", outcome: "agent_ended", queued_at: null, started_at: "2026-11-23T10:00:00Z",
  answered_at: "2026-11-23T10:00:02Z", ended_at: "2026-11-23T10:00:24Z", duration_ms: 22_000, error_reason: null, created_at: "2026-11-23T10:00:00Z",
};

describe("CallsPage", () => {
  it("filters and sorts through the API's query parameters", async () => {
    tokenStore.set("tok");
    const api = fakeApi({
      "GET /api/v1/calls": { items: [call], total: 1, limit: 50, offset: 0 },
      "GET /api/v1/agents": { items: [{ id: call.agent_id, name: "Reception" }], total: 1, limit: 200, offset: 0 },
    });
    vi.stubGlobal("fetch", api.fetch);
    renderWithApp(<CallsPage />, { route: "/calls" });
    const row = await screen.findByRole("row", { name: /\+4915112345678/ });
    expect(within(row).getByText("Reception")).toBeInTheDocument();
    expect(within(row).getByText("22.0 s")).toBeInTheDocument();
    const user = userEvent.setup();

    await user.click(screen.getByRole("button", { name: "Duration" }));
    await waitFor(() => expect(api.calls.at(-1)?.path).toContain("sort=duration_ms"));
    await user.click(screen.getByRole("button", { name: "Duration" }));
    await waitFor(() => expect(api.calls.at(-1)?.path).toContain("sort=-duration_ms"));
    expect(screen.getByRole("columnheader", { name: "Duration" })).toHaveAttribute("aria-sort", "descending");

    await user.click(screen.getByRole("textbox", { name: "Status" }));
    await user.click(await screen.findByRole("option", { name: "Completed" }));
    await user.type(screen.getByRole("textbox", { name: "Transcript contains" }), "Thursday");
    await waitFor(() => {
      const query = new URLSearchParams(api.calls.at(-1)!.path.split("?")[1]);
      expect(Object.fromEntries(query)).toMatchObject({ status: "completed", q: "Thursday", sort: "-duration_ms" });
    });
  });

  it("has an empty state that suggests widening the filters", async () => {
    tokenStore.set("tok");
    vi.stubGlobal("fetch", fakeApi({
      "GET /api/v1/calls": { items: [], total: 0, limit: 50, offset: 0 },
      "GET /api/v1/agents": { items: [], total: 0, limit: 200, offset: 0 },
    }).fetch);
    renderWithApp(<CallsPage />, { route: "/calls?status=failed" });
    expect(await screen.findByText("No calls match")).toBeInTheDocument();
  });
});
