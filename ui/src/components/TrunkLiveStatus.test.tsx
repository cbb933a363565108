import { screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { fakeApi, renderWithApp } from "../test/render";
import { TrunkLiveStatus, TrunkRegistration } from "./TrunkLiveStatus";

const path = "GET /api/v1/sip-trunks/t1/status";

describe("TrunkLiveStatus", () => {
  it("shows the endpoint, the registration and channels in use", async () => {
    vi.stubGlobal("fetch", fakeApi({ [path]: { trunk_id: "t1", endpoint: "vocals-t1", endpoint_state: "online", active_channels: 2, registration: "Registered", errors: [] } }).fetch);
    renderWithApp(<><TrunkLiveStatus trunkId="t1" /><TrunkRegistration trunkId="t1" /></>);
    expect(await screen.findByText("online")).toBeInTheDocument();
    expect(screen.getByText("Registered")).toBeInTheDocument();
    expect(screen.getByText("2 in use")).toBeInTheDocument();
  });

  it("says an IP trunk does not register", async () => {
    vi.stubGlobal("fetch", fakeApi({ [path]: { trunk_id: "t1", endpoint: "vocals-t1", endpoint_state: "offline", active_channels: 0, registration: null } }).fetch);
    renderWithApp(<><TrunkLiveStatus trunkId="t1" /><TrunkRegistration trunkId="t1" /></>);
    expect(await screen.findByText("offline")).toBeInTheDocument();
    expect(screen.queryByTestId("trunk-registration")).toBeNull();
  });

  it("puts a refused or unknown registration in words, with why", async () => {
    vi.stubGlobal("fetch", fakeApi({ [path]: { trunk_id: "t1", endpoint: "vocals-t1", endpoint_state: "online", active_channels: 0, registration: "Rejected", errors: [] } }).fetch);
    renderWithApp(<TrunkRegistration trunkId="t1" />);
    expect(await screen.findByText("Rejected by the carrier")).toBeInTheDocument();
  });

  it("says the status is unknown, and why, when Asterisk cannot be asked", async () => {
    vi.stubGlobal("fetch", fakeApi({ [path]: { status: 503, body: { title: "Service Unavailable", status: 503, detail: "this process has no Asterisk connection to ask" } } }).fetch);
    renderWithApp(<TrunkLiveStatus trunkId="t1" />);
    expect(await screen.findByLabelText("Status unknown: this process has no Asterisk connection to ask")).toBeInTheDocument();
  });
});
