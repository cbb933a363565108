import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { ApiProblem } from "../api/problem";
import { catalog, openaiProvider } from "../test/fixtures";
import { renderWithApp } from "../test/render";
import { ProviderForm } from "./ProviderForm";

describe("ProviderForm", () => {
  it("offers the catalog's vendors of the chosen kind and their options", async () => {
    const onSubmit = vi.fn().mockResolvedValue(undefined);
    renderWithApp(<ProviderForm vendors={catalog.vendors} onSubmit={onSubmit} onCancel={() => {}} />);
    const user = userEvent.setup();
    await user.type(screen.getByRole("textbox", { name: "Name" }), "OpenAI production");
    await user.click(screen.getByRole("textbox", { name: "Vendor" }));
    const listbox = await screen.findByRole("listbox");
    expect(within(listbox).getAllByRole("option").map((o) => o.textContent)).toEqual(["Scripted (offline)", "OpenAI"]);
    await user.click(within(listbox).getByRole("option", { name: "OpenAI" }));
    // The vendor needs a key.
    await user.click(screen.getByRole("button", { name: "Create provider" }));
    expect(await screen.findByText("This vendor needs an API key")).toBeInTheDocument();
    await user.type(screen.getByLabelText("API key"), "sk-live-0123456789abcd");
    await user.type(screen.getByRole("textbox", { name: "Temperature" }), "0.2");
    await user.click(screen.getByRole("textbox", { name: "Reasoning effort" }));
    await user.click(await screen.findByRole("option", { name: "low" }));
    await user.click(screen.getByRole("button", { name: "Create provider" }));
    await waitFor(() => expect(onSubmit).toHaveBeenCalledOnce());
    expect(onSubmit.mock.calls[0]![0]).toEqual({
      name: "OpenAI production", kind: "llm", vendor: "openai", model: null, api_key: "sk-live-0123456789abcd",
      options: { temperature: 0.2, reasoning_effort: "low" },
    });
  });

  it("never shows a stored key, and keeps it unless a new one is typed", async () => {
    const onSubmit = vi.fn().mockResolvedValue(undefined);
    renderWithApp(<ProviderForm provider={openaiProvider} vendors={catalog.vendors} onSubmit={onSubmit} onCancel={() => {}} />);
    expect(screen.getByLabelText("API key")).toHaveValue("");
    expect(screen.getByText("Stored: ****abcd. Leave empty to keep it.")).toBeInTheDocument();
    expect(screen.getByRole("radio", { name: "Language model" })).toBeDisabled();
    await userEvent.setup().click(screen.getByRole("button", { name: "Save provider" }));
    await waitFor(() => expect(onSubmit).toHaveBeenCalledOnce());
    expect(onSubmit.mock.calls[0]![0]).not.toHaveProperty("api_key");
  });

  it("shows an option the vendor refused under that option", async () => {
    const onSubmit = vi.fn().mockRejectedValue(new ApiProblem(422, "Unprocessable Content", "x", [{ field: "options.temperature", reason: "must be at most 2" }]));
    renderWithApp(<ProviderForm provider={{ ...openaiProvider, options: { temperature: 3 } }} vendors={catalog.vendors} onSubmit={onSubmit} onCancel={() => {}} />);
    await userEvent.setup().click(screen.getByRole("button", { name: "Save provider" }));
    await waitFor(() => expect(screen.getByRole("textbox", { name: "Temperature" })).toHaveAccessibleDescription(/must be at most 2/));
  });
});
