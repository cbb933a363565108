/** Pages show a clear error (with a retry), a loading state and an empty state. */
import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { tokenStore } from "../api/client";
import { fakeApi, renderWithApp } from "../test/render";
import { me } from "../test/fixtures";
import { AgentsPage } from "./AgentsPage";
import { CallDetailPage } from "./CallDetailPage";
import { Route, Routes } from "react-router";
import { App } from "../App";

describe("error, loading and empty states", () => {
  it("shows the API's problem detail and retries on request", async () => {
    tokenStore.set("tok");
    let fail = true;
    const ok = fakeApi({ "GET /api/v1/auth/me": me, "GET /api/v1/agents": { items: [], total: 0, limit: 50, offset: 0 } });
    vi.stubGlobal("fetch", async (r: Request) => {
      if (fail && new URL(r.url).pathname === "/api/v1/agents") {
        return new Response(JSON.stringify({ title: "Service Unavailable", status: 503, detail: "PostgreSQL is unavailable" }), { status: 503, headers: { "content-type": "application/problem+json" } });
      }
      return ok.fetch(r);
    });
    renderWithApp(<AgentsPage />);
    expect(await screen.findByRole("alert")).toHaveTextContent("PostgreSQL is unavailable");
    fail = false;
    await userEvent.setup().click(screen.getByRole("button", { name: "Try again" }));
    expect(await screen.findByText("No agents yet")).toBeInTheDocument();
  });

  it("says so when the network is down", async () => {
    tokenStore.set("tok");
    vi.stubGlobal("fetch", async () => { throw new TypeError("Failed to fetch"); });
    renderWithApp(<AgentsPage />);
    expect(await screen.findByRole("alert", {}, { timeout: 10_000 })).toHaveTextContent("Failed to fetch");
  });

  it("shows a loader while the call loads, then a 404 as an error", async () => {
    tokenStore.set("tok");
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const api = fakeApi({ "GET /api/v1/auth/me": me, "GET /api/v1/agents": { items: [], total: 0, limit: 200, offset: 0 } });
    vi.stubGlobal("fetch", async (r: Request) => {
      if (new URL(r.url).pathname.startsWith("/api/v1/calls/")) await gate;
      return api.fetch(r);
    });
    renderWithApp(<Routes><Route path="/calls/:callId" element={<CallDetailPage />} /></Routes>, { route: "/calls/55555555-5555-4555-8555-555555555555" });
    expect(await screen.findByText("Loading the call…")).toBeInTheDocument();
    release();
    expect(await screen.findByRole("alert")).toHaveTextContent("GET /api/v1/calls/55555555-5555-4555-8555-555555555555");
  });

  it("sends the session token, and on a refusal forgets it and returns to the login page", async () => {
    tokenStore.set("stale");
    const seen: (string | null)[] = [];
    vi.stubGlobal("fetch", async (r: Request) => {
      seen.push(r.headers.get("Authorization"));
      return new Response(JSON.stringify({ title: "Unauthorized", status: 401, detail: "session expired" }), { status: 401, headers: { "content-type": "application/problem+json" } });
    });
    renderWithApp(<App />, { route: "/agents" });
    expect(await screen.findByRole("heading", { name: "Sign in to Vocals" })).toBeInTheDocument();
    expect(seen[0]).toBe("Bearer stale");
    expect(tokenStore.get()).toBeNull();
  });
});
