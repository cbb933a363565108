import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { ApiProblem } from "../api/problem";
import { renderWithApp } from "../test/render";
import { TrunkForm } from "./TrunkForm";

const agents = [{ id: "44444444-4444-4444-8444-444444444444", name: "Reception" }];

describe("TrunkForm", () => {
  it("puts each field the API refused under that field", async () => {
    const onSubmit = vi.fn().mockRejectedValue(new ApiProblem(422, "Unprocessable Content", "…", [
      { field: "host", reason: "must be a hostname or an IPv4/IPv6 address" },
      { field: "inbound_routes[0].did", reason: "must be E.164 digits" },
    ]));
    renderWithApp(<TrunkForm agents={agents} onSubmit={onSubmit} onCancel={() => {}} />);
    const user = userEvent.setup();
    await user.type(screen.getByRole("textbox", { name: "Name" }), "carrier");
    await user.type(screen.getByRole("textbox", { name: "Host" }), "bad host");
    await user.click(screen.getByRole("button", { name: "Add number" }));
    await user.type(screen.getByRole("textbox", { name: "DID" }), "12ab");
    await user.click(screen.getByRole("button", { name: "Create trunk" }));
    await waitFor(() => expect(screen.getByRole("textbox", { name: "Host" })).toHaveAccessibleDescription(/must be a hostname/));
    expect(screen.getByRole("textbox", { name: "DID" })).toHaveAccessibleDescription("must be E.164 digits");
    expect(screen.getByRole("alert")).toHaveTextContent("Please correct the highlighted fields.");
  });

  it("refuses a name with a space as its hint says, before asking the API", async () => {
    const onSubmit = vi.fn().mockResolvedValue(undefined);
    renderWithApp(<TrunkForm agents={agents} onSubmit={onSubmit} onCancel={() => {}} />);
    const user = userEvent.setup();
    await user.type(screen.getByRole("textbox", { name: "Name" }), "main carrier");
    await user.type(screen.getByRole("textbox", { name: "Host" }), "sip.example.com");
    await user.click(screen.getByRole("button", { name: "Create trunk" }));
    await waitFor(() => expect(screen.getByRole("textbox", { name: "Name" })).toHaveAccessibleDescription(/no spaces/));
    expect(onSubmit).not.toHaveBeenCalled();
  });

  it("sends the trunk as the API names it, the password only when typed", async () => {
    const onSubmit = vi.fn().mockResolvedValue(undefined);
    renderWithApp(<TrunkForm agents={agents} onSubmit={onSubmit} onCancel={() => {}}
      trunk={{ id: "t", name: "carrier", kind: "registration", host: "sip.example.com", port: 5060, transport: "udp", username: "acme", has_password: true,
        from_user: null, from_domain: null, codecs: ["alaw"], dtmf_mode: "rfc4733", max_cps: 1, max_calls: 10, inbound_routes: [], created_at: "", updated_at: "" }} />);
    const user = userEvent.setup();
    expect(screen.getByText("Stored. Leave empty to keep it.")).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Save trunk" }));
    await waitFor(() => expect(onSubmit).toHaveBeenCalledOnce());
    const body = onSubmit.mock.calls[0]![0];
    expect(body).toMatchObject({ name: "carrier", kind: "registration", host: "sip.example.com", port: 5060, username: "acme", codecs: ["alaw"], from_user: null });
    expect(body).not.toHaveProperty("password");
  });

  it("checks what it can before asking the server", async () => {
    const onSubmit = vi.fn();
    renderWithApp(<TrunkForm agents={agents} onSubmit={onSubmit} onCancel={() => {}} />);
    await userEvent.setup().click(screen.getByRole("button", { name: "Create trunk" }));
    expect(await screen.findByText("Enter the provider's host name or IP address")).toBeInTheDocument();
    expect(onSubmit).not.toHaveBeenCalled();
  });
});
