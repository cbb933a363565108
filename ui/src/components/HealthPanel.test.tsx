import { screen, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { fakeApi, renderWithApp } from "../test/render";
import { HealthPanel } from "./HealthPanel";

describe("HealthPanel", () => {
  it("shows the AMI connection next to ARI, flagged while it reconnects", async () => {
    vi.stubGlobal("fetch", fakeApi({
      "GET /healthz": { status: "ok", postgres: { ok: true }, redis: { ok: true }, extra: { ari: "connected", ami: "reconnecting" } },
      "GET /api/v1/providers": { items: [], total: 0, limit: 500, offset: 0 },
    }).fetch);
    renderWithApp(<HealthPanel />);
    const panel = await screen.findByRole("region", { name: "System health" });
    const ami = within(panel).getByText("Asterisk (AMI)").parentElement!;
    expect(ami).toHaveTextContent("Reconnecting");
    expect(within(ami).getByLabelText("needs attention")).toBeInTheDocument();
    expect(panel).not.toHaveTextContent("Ami:");
  });

  it("lists each provider's last check, kept by the API", async () => {
    const provider = { id: "p1", name: "Deepgram live", kind: "stt", vendor: "deepgram", api_key: "****0001", model: null, options: {}, created_at: "", updated_at: "" };
    vi.stubGlobal("fetch", fakeApi({
      "GET /healthz": { status: "ok", postgres: { ok: true }, redis: { ok: true }, extra: {} },
      "GET /api/v1/providers": { items: [
        { ...provider, last_test: { ok: false, at: "2026-12-05T07:00:00Z", message: "deepgram: the API key was refused" } },
        { ...provider, id: "p2", name: "Never tested" },
      ], total: 2, limit: 500, offset: 0 },
    }).fetch);
    renderWithApp(<HealthPanel />);
    const checks = await screen.findByLabelText("Provider checks");
    expect(checks).toHaveTextContent("Deepgram live");
    expect(checks).toHaveTextContent("deepgram: the API key was refused");
    expect(within(checks).getByLabelText("needs attention")).toBeInTheDocument();
    expect(checks).not.toHaveTextContent("Never tested");
  });

  it("lists the supervised tasks as rows (name, state, restarts, last error), never as JSON", async () => {
    vi.stubGlobal("fetch", fakeApi({
      "GET /healthz": { status: "ok", postgres: { ok: true }, redis: { ok: true }, extra: {
        tasks: {
          "webhook-worker": { state: "running", restarts: 0, last_error: null },
          "outbound-dispatcher": { state: "restarting", restarts: 3, last_error: "ConnectionError: Redis is loading the dataset" },
        },
        dead_letters: 0,
        local_models: { workers: 2, alive: 2, queued: 0, busy: 1, restarts: 0 },
        process_id: "vocals-1a2b",
      } },
      "GET /api/v1/providers": { items: [], total: 0, limit: 500, offset: 0 },
    }).fetch);
    renderWithApp(<HealthPanel />);
    const panel = await screen.findByRole("region", { name: "System health" });
    const tasks = within(panel).getByRole("table", { name: "Background tasks" });
    const rows = within(tasks).getAllByRole("row").slice(1);
    expect(rows.map((r) => within(r).getAllByRole("cell").map((c) => c.textContent))).toEqual([
      ["outbound-dispatcherLast error: ConnectionError: Redis is loading the dataset", "restarting", "3"],
      ["webhook-worker", "running", "0"],
    ]);
    expect(within(panel).getByText("Local model workers").parentElement!).toHaveTextContent("2 / 2 up");
    expect(panel).not.toHaveTextContent(/"state"|"restarts"|last_error/);
  });
});
