import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { tokenStore } from "../api/client";
import { me } from "../test/fixtures";
import { fakeApi, renderWithApp } from "../test/render";
import { PricesPage } from "./PricesPage";

const haiku = {
  kind: "llm" as const, vendor: "claude", model: "claude-haiku-4-5",
  per_audio_minute: 0, per_million_characters: 0, per_million_input_tokens: 1, per_million_output_tokens: 5,
};
const prices = { currency: "USD", defaults: [haiku], defaults_checked: "2026-12-05", prices: [] };

describe("PricesPage", () => {
  it("shows the defaults and saves a tenant's own price, showing a refusal in words", async () => {
    tokenStore.set("tok");
    const mine = { ...haiku, vendor: "kimi", model: "kimi-k2.6", per_million_input_tokens: 0.6, per_million_output_tokens: 0 };
    const api = fakeApi({
      "GET /api/v1/auth/me": me,
      "GET /api/v1/prices": prices,
      "PUT /api/v1/prices": { status: 422, body: { title: "Unprocessable Content", status: 422, detail: "prices[1]: repeats a kind, vendor and model" } },
    });
    vi.stubGlobal("fetch", api.fetch);
    renderWithApp(<PricesPage />);
    const defaults = await screen.findByRole("table", { name: "Default prices" });
    expect(within(defaults).getByRole("row", { name: /claude-haiku-4-5/ })).toHaveTextContent("$1");
    const user = userEvent.setup();
    await user.click(screen.getByRole("button", { name: "Add a price" }));
    const row = screen.getByRole("group", { name: "Price 1" });
    await user.type(within(row).getByRole("textbox", { name: "Vendor" }), "kimi");
    await user.clear(within(row).getByRole("textbox", { name: "Model" }));
    await user.type(within(row).getByRole("textbox", { name: "Model" }), "kimi-k2.6");
    await user.clear(within(row).getByRole("textbox", { name: "$ per 1M input tokens" }));
    await user.type(within(row).getByRole("textbox", { name: "$ per 1M input tokens" }), "0.6");
    await user.click(screen.getByRole("button", { name: "Save prices" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("repeats a kind, vendor and model");
    const put = api.calls.find((c) => c.method === "PUT");
    expect(put?.body).toEqual({ prices: [mine] });
  });
});
