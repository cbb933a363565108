import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { tokenStore } from "../api/client";
import { me } from "../test/fixtures";
import { fakeApi, renderWithApp } from "../test/render";
import { UsersPage } from "./UsersPage";

const owner = { id: me.user_id!, email: "owner@acme.test", role: "owner" as const, created_at: "2026-11-23T10:00:00Z", updated_at: "2026-11-23T10:00:00Z" };
const viewer = { ...owner, id: "88888888-8888-4888-8888-888888888888", email: "viewer@acme.test", role: "viewer" as const };

describe("UsersPage", () => {
  it("lets the owner change a role and set a password, never remove themselves", async () => {
    tokenStore.set("tok");
    const api = fakeApi({
      "GET /api/v1/auth/me": me,
      "GET /api/v1/users": { items: [owner, viewer], total: 2, limit: 50, offset: 0 },
      [`PATCH /api/v1/users/${viewer.id}`]: { ...viewer, role: "admin" },
    });
    vi.stubGlobal("fetch", api.fetch);
    renderWithApp(<UsersPage />);
    const self = await screen.findByRole("row", { name: /owner@acme.test/ });
    expect(within(self).queryByRole("button", { name: /Remove/ })).toBeNull();
    expect(within(self).getByRole("textbox", { name: "Role of owner@acme.test" })).toBeDisabled();

    const user = userEvent.setup();
    const row = screen.getByRole("row", { name: /viewer@acme.test/ });
    await user.click(within(row).getByRole("textbox", { name: "Role of viewer@acme.test" }));
    await user.click(await screen.findByRole("option", { name: "Admin" }));
    await waitFor(() => expect(api.calls.find((c) => c.method === "PATCH")?.body).toEqual({ role: "admin" }));

    await user.click(within(row).getByRole("button", { name: "Set the password of viewer@acme.test" }));
    await user.type(await screen.findByLabelText(/^New password/, { selector: "input" }), "short");
    await user.click(screen.getByRole("button", { name: "Set password" }));
    expect(await screen.findByText("At least 8 characters")).toBeInTheDocument();
    await user.type(screen.getByLabelText(/^New password/, { selector: "input" }), "-but-now-long");
    await user.click(screen.getByRole("button", { name: "Set password" }));
    await waitFor(() => expect(api.calls.filter((c) => c.method === "PATCH").at(-1)?.body).toEqual({ password: "short-but-now-long" }));
  });
  it("invites a colleague by e-mail and lists the invitations not accepted yet", async () => {
    tokenStore.set("tok");
    const pending = { id: "99999999-9999-4999-8999-999999999999", email: "new@acme.test", role: "admin", invited_by: "owner@acme.test", expires_at: "2026-12-01T10:00:00Z", created_at: "2026-11-24T10:00:00Z" };
    const api = fakeApi({
      "GET /api/v1/auth/me": me,
      "GET /api/v1/users": { items: [owner], total: 1, limit: 50, offset: 0 },
      "GET /api/v1/users/invitations": { items: [pending] },
      "POST /api/v1/users/invitations": { status: 201, body: pending },
    });
    vi.stubGlobal("fetch", api.fetch);
    renderWithApp(<UsersPage />);
    expect(await screen.findByRole("row", { name: /new@acme.test/ })).toHaveTextContent("owner@acme.test");
    const user = userEvent.setup();
    await user.click(screen.getByRole("button", { name: "Invite" }));
    const dialog = await screen.findByRole("dialog");
    await user.type(within(dialog).getByRole("textbox", { name: "E-mail" }), "new@acme.test");
    await user.click(within(dialog).getByRole("button", { name: "Send invitation" }));
    await waitFor(() => expect(api.calls.some((c) => c.method === "POST" && c.path === "/api/v1/users/invitations")).toBe(true));
    expect(api.calls.find((c) => c.method === "POST")).toMatchObject({ body: { email: "new@acme.test", role: "viewer" } });
  });
});
