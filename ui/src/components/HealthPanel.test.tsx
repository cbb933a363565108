import { screen, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { fakeApi, renderWithApp } from "../test/render";
import { HealthPanel } from "./HealthPanel";

describe("HealthPanel", () => {
  it("shows the AMI connection next to ARI, flagged while it reconnects", async () => {
    vi.stubGlobal("fetch", fakeApi({
      "GET /healthz": { status: "ok", postgres: { ok: true }, redis: { ok: true }, extra: { ari: "connected", ami: "reconnecting" } },
    }).fetch);
    renderWithApp(<HealthPanel />);
    const panel = await screen.findByRole("region", { name: "System health" });
    const ami = within(panel).getByText("Asterisk (AMI)").parentElement!;
    expect(ami).toHaveTextContent("Reconnecting");
    expect(within(ami).getByLabelText("needs attention")).toBeInTheDocument();
    expect(panel).not.toHaveTextContent("Ami:");
  });
});
