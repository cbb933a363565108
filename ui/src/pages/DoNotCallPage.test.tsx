import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { tokenStore } from "../api/client";
import { me } from "../test/fixtures";
import { fakeApi, renderWithApp } from "../test/render";
import { DoNotCallPage } from "./DoNotCallPage";

const CALL = "66666666-6666-4666-8666-666666666666";
const ENTRY = { number: "+14155550100", source: "call", reason: "asked during the call", call_id: CALL, created_at: "2026-12-05T10:00:00Z" };
const OTHER = { number: "+4930123456", source: "api", reason: "", call_id: null, created_at: "2026-12-04T10:00:00Z" };
const problem = (errors: { field: string; reason: string }[]) => ({
  status: 422, body: { title: "Unprocessable Content", status: 422, detail: "Invalid", errors },
});

describe("DoNotCallPage", () => {
  it("searches the list and removes a number only once confirmed", async () => {
    tokenStore.set("tok");
    const api = fakeApi({
      "GET /api/v1/auth/me": me,
      "GET /api/v1/do-not-call": { items: [ENTRY, OTHER], total: 2, limit: 50, offset: 0 },
      "DELETE /api/v1/do-not-call/+4930123456": { status: 204, body: undefined },
    });
    vi.stubGlobal("fetch", api.fetch);
    renderWithApp(<DoNotCallPage />);
    const table = await screen.findByRole("table", { name: "Do-not-call numbers" });
    const row = within(table).getByRole("row", { name: /\+14155550100/ });
    expect(row).toHaveTextContent("asked during the call");
    expect(within(row).getByRole("link", { name: "the call" })).toHaveAttribute("href", `/calls/${CALL}`);

    const user = userEvent.setup({ delay: null });
    await user.type(screen.getByRole("textbox", { name: "Search" }), "4930");
    await waitFor(() => expect(api.calls.map((c) => c.path)).toContain("/api/v1/do-not-call?number=4930&limit=50&offset=0"));

    await user.click(within(table).getByRole("button", { name: "Remove +4930123456" }));
    const dialog = await screen.findByRole("dialog", { name: "Take +4930123456 off the list?" });
    await user.click(within(dialog).getByRole("button", { name: "Keep it" }));
    expect(api.calls.some((c) => c.method === "DELETE")).toBe(false);
    await user.click(within(table).getByRole("button", { name: "Remove +4930123456" }));
    await user.click(within(await screen.findByRole("dialog")).getByRole("button", { name: "Remove" }));
    await waitFor(() => expect(api.calls.filter((c) => c.method === "DELETE").map((c) => c.path)).toEqual(["/api/v1/do-not-call/%2B4930123456"]));
  });

  it("adds a number, showing the API's refusal under the field", async () => {
    tokenStore.set("tok");
    let first = true;
    const api = fakeApi({
      "GET /api/v1/auth/me": me,
      "GET /api/v1/do-not-call": { items: [], total: 0, limit: 50, offset: 0 },
    });
    vi.stubGlobal("fetch", async (input: Request) => {
      if (input.method !== "POST") return api.fetch(input);
      await api.fetch(input.clone());
      const answer = first ? problem([{ field: "number", reason: "'+12' is not a phone number (The string supplied did not seem to be a phone number.)" }]) : { status: 201, body: { ...OTHER } };
      first = false;
      return new Response(JSON.stringify(answer.body), { status: answer.status, headers: { "content-type": "application/json" } });
    });
    renderWithApp(<DoNotCallPage />);
    expect(await screen.findByText("The list is empty")).toBeInTheDocument();
    const form = screen.getByRole("form", { name: "Add a number" });
    const user = userEvent.setup({ delay: null });
    const number = within(form).getByRole("textbox", { name: "Number" });
    await user.type(number, "+12");
    await user.click(within(form).getByRole("button", { name: "Add to the list" }));
    await waitFor(() => expect(number).toHaveAccessibleDescription(/'\+12' is not a phone number/));
    await user.clear(number);
    await user.type(number, "+49 30 123456");
    await user.type(within(form).getByRole("textbox", { name: "Reason" }), "complaint");
    await user.click(within(form).getByRole("button", { name: "Add to the list" }));
    await waitFor(() => expect(number).toHaveValue(""));
    expect(api.calls.filter((c) => c.method === "POST").map((c) => c.body)).toEqual([
      { number: "+12", reason: "" }, { number: "+49 30 123456", reason: "complaint" },
    ]);
  });

  it("imports a CSV, reporting each bad row by line", async () => {
    tokenStore.set("tok");
    const api = fakeApi({
      "GET /api/v1/auth/me": me,
      "GET /api/v1/do-not-call": { items: [], total: 0, limit: 50, offset: 0 },
      "POST /api/v1/do-not-call/import": problem([{ field: "csv.line[2]", reason: "'n/a' is not a phone number" }]),
    });
    vi.stubGlobal("fetch", api.fetch);
    renderWithApp(<DoNotCallPage />);
    const form = await screen.findByRole("form", { name: "Import numbers" });
    const user = userEvent.setup({ delay: null });
    const file = new File(["number\nn/a\n+14155550100\n"], "dnc.csv", { type: "text/csv" });
    // Mantine's FileInput is a button over a hidden file input: the input takes the file.
    await user.upload(form.querySelector<HTMLInputElement>('input[type="file"]')!, file);
    expect(within(form).getByRole("button", { name: /CSV file/ })).toHaveTextContent("dnc.csv");
    await user.click(within(form).getByRole("button", { name: "Import" }));
    const report = await within(form).findByRole("table", { name: "Rows to correct" });
    expect(within(report).getAllByRole("row")[1]).toHaveTextContent("2'n/a' is not a phone number");
    expect(api.calls.find((c) => c.method === "POST")?.body).toEqual({ csv: "number\nn/a\n+14155550100\n", reason: "" });
  });

  it("shows a viewer the list without the controls that change it", async () => {
    tokenStore.set("tok");
    vi.stubGlobal("fetch", fakeApi({
      "GET /api/v1/auth/me": { ...me, role: "viewer" },
      "GET /api/v1/do-not-call": { items: [ENTRY], total: 1, limit: 50, offset: 0 },
    }).fetch);
    renderWithApp(<DoNotCallPage />);
    await screen.findByRole("table", { name: "Do-not-call numbers" });
    expect(screen.queryByRole("button", { name: /Remove/ })).toBeNull();
    expect(screen.queryByRole("form", { name: "Add a number" })).toBeNull();
    expect(screen.getByRole("button", { name: "Export CSV" })).toBeInTheDocument();
  });
});
