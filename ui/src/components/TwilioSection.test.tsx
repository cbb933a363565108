import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { tokenStore, type Schemas } from "../api/client";
import { me, problem } from "../test/fixtures";
import { fakeApi, renderWithApp } from "../test/render";
import { TwilioSection } from "./TwilioSection";

const SID = "AC0123456789abcdef0123456789abcdef";
const agent = { id: "44444444-4444-4444-8444-444444444444", name: "Reception", inbound_numbers: ["+15550001", "+15550002"] };
const twilio: Schemas["TwilioOut"] = {
  account: { account_sid: SID, auth_token: "****beef", created_at: "2026-11-23T10:00:00Z", updated_at: "2026-11-23T10:00:00Z" },
  numbers: [{ did: "+15550002", agent_id: agent.id }],
  voice_url: "https://vocals.example/twilio/voice",
  status_url: "https://vocals.example/twilio/status",
};

function serve(role: "owner" | "viewer", routes: Record<string, unknown> = {}) {
  tokenStore.set("tok");
  const api = fakeApi({
    "GET /api/v1/auth/me": { ...me, role },
    "GET /api/v1/twilio": twilio,
    "GET /api/v1/agents": { items: [agent], total: 1, limit: 200, offset: 0 },
    ...routes,
  });
  vi.stubGlobal("fetch", api.fetch);
  return api;
}

describe("TwilioSection", () => {
  it("shows the account masked, the console URLs, and the API's refusal under the field", async () => {
    const api = serve("owner", {
      "PUT /api/v1/twilio/account": problem(409, [{ field: "account_sid", reason: "this Twilio account is already connected to another tenant" }]),
    });
    renderWithApp(<TwilioSection />);
    expect(await screen.findByText(SID)).toBeInTheDocument();
    expect(screen.getByText("****beef")).toBeInTheDocument();
    expect(screen.getByText("https://vocals.example/twilio/voice")).toBeInTheDocument();
    expect(screen.getByText("https://vocals.example/twilio/status")).toBeInTheDocument();

    const user = userEvent.setup();
    const form = screen.getByRole("form", { name: "Twilio account" });
    await user.type(within(form).getByRole("textbox", { name: "Account SID" }), ` ${SID} `);
    await user.type(within(form).getByLabelText(/^Auth token/, { selector: "input" }), "0123456789abcdef0123456789abcdef");
    await user.click(within(form).getByRole("button", { name: "Replace account" }));
    await waitFor(() => expect(within(form).getByRole("textbox", { name: "Account SID" }))
      .toHaveAccessibleDescription("this Twilio account is already connected to another tenant"));
    expect(api.calls.find((c) => c.method === "PUT")?.body).toEqual({ account_sid: SID, auth_token: "0123456789abcdef0123456789abcdef" });
  });

  it("switches a routed number onto Twilio and back", async () => {
    const api = serve("owner", {
      "PUT /api/v1/twilio/numbers/%2B15550001": { did: "+15550001", agent_id: agent.id },
      "DELETE /api/v1/twilio/numbers/%2B15550002": { status: 204, body: undefined },
    });
    renderWithApp(<TwilioSection />);
    const user = userEvent.setup();
    const off = await screen.findByRole("switch", { name: "Twilio carries +15550001" });
    const on = screen.getByRole("switch", { name: "Twilio carries +15550002" });
    await waitFor(() => expect(within(screen.getByRole("row", { name: /\+15550001/ })).getByText("Reception")).toBeInTheDocument());
    expect(off).not.toBeChecked();
    expect(on).toBeChecked();
    await user.click(off);
    await waitFor(() => expect(api.calls.some((c) => c.method === "PUT" && c.path === "/api/v1/twilio/numbers/%2B15550001")).toBe(true));
    await waitFor(() => expect(on).toBeEnabled());
    await user.click(on);
    await waitFor(() => expect(api.calls.some((c) => c.method === "DELETE" && c.path === "/api/v1/twilio/numbers/%2B15550002")).toBe(true));
  });

  it("lets a viewer look but not change anything", async () => {
    const api = serve("viewer");
    renderWithApp(<TwilioSection />);
    expect(await screen.findByText("****beef")).toBeInTheDocument();
    await waitFor(() => expect(within(screen.getByRole("row", { name: /\+15550001/ })).getByText("Reception")).toBeInTheDocument());
    expect(api.calls.map((c) => c.path)).toContain("/api/v1/auth/me");
    expect(screen.queryByRole("form", { name: "Twilio account" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Disconnect" })).toBeNull();
    await waitFor(() => expect(screen.getByRole("switch", { name: "Twilio carries +15550001" })).toBeDisabled());
  });

  it("offers no switch onto Twilio before an account is connected", async () => {
    serve("owner", { "GET /api/v1/twilio": { ...twilio, account: null, numbers: [] } });
    renderWithApp(<TwilioSection />);
    expect(await screen.findByText("No Twilio account connected.")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Connect account" })).toBeInTheDocument();
    expect(await screen.findByRole("switch", { name: "Twilio carries +15550001" })).toBeDisabled();
  });

  it("moves the switch at once, keeps what the API then says, and puts it back when refused", async () => {
    const api = serve("owner", {
      "PUT /api/v1/twilio/numbers/%2B15550001": { did: "+15550001", agent_id: agent.id },
      "DELETE /api/v1/twilio/numbers/%2B15550002": problem(409, []),
    });
    let answer: () => void = () => undefined;
    const answered = new Promise<void>((resolve) => { answer = resolve; });
    // The PUT waits until the test lets it answer; GET /twilio then tells the new state.
    vi.stubGlobal("fetch", async (input: Request | string | URL, init?: RequestInit) => {
      const request = input instanceof Request ? input : new Request(input, init);
      if (request.method === "PUT") {
        await answered;
        twilioNow.numbers = [...twilio.numbers, { did: "+15550001", agent_id: agent.id }];
      }
      if (request.method === "GET" && new URL(request.url).pathname === "/api/v1/twilio") {
        return new Response(JSON.stringify(twilioNow), { headers: { "content-type": "application/json" } });
      }
      return api.fetch(request);
    });
    const twilioNow = { ...twilio };
    renderWithApp(<TwilioSection />);
    const user = userEvent.setup();
    const off = await screen.findByRole("switch", { name: "Twilio carries +15550001" });
    await user.click(off);
    expect(off).toBeChecked(); // before the API answered
    answer();
    await waitFor(() => expect(api.calls.some((c) => c.method === "PUT")).toBe(true));
    await waitFor(() => expect(off).toBeEnabled());
    expect(off).toBeChecked(); // and after, as read again
    const on = screen.getByRole("switch", { name: "Twilio carries +15550002" });
    await user.click(on);
    await waitFor(() => expect(api.calls.some((c) => c.method === "DELETE")).toBe(true));
    await waitFor(() => expect(on).toBeEnabled());
    expect(on).toBeChecked(); // refused: back as it was
  });
});
