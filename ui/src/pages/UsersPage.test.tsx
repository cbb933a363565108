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
});
