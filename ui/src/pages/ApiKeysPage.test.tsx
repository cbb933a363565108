import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { tokenStore } from "../api/client";
import { fakeApi, renderWithApp } from "../test/render";
import { CreateKeyForm } from "./ApiKeysPage";

describe("CreateKeyForm", () => {
  it("refuses -5 requests per minute in words instead of storing 1", async () => {
    tokenStore.set("tok");
    const api = fakeApi({});
    vi.stubGlobal("fetch", api.fetch);
    renderWithApp(<CreateKeyForm onCreated={() => {}} onCancel={() => {}} />);
    const user = userEvent.setup();
    await user.type(screen.getByRole("textbox", { name: "Name" }), "billing");
    const rpm = screen.getByRole("textbox", { name: "Requests per minute" });
    await user.clear(rpm);
    await user.type(rpm, "-5");
    await user.click(screen.getByRole("button", { name: "Create key" }));
    await waitFor(() => expect(rpm).toHaveAccessibleDescription("Must be a whole number, at least 1"));
    expect(rpm).toHaveValue("-5");
    expect(api.calls.filter((c) => c.method === "POST")).toEqual([]);
  });
});
