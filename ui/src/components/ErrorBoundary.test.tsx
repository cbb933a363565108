import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import { describe, expect, it, vi } from "vitest";
import { renderWithApp } from "../test/render";
import { ErrorBoundary } from "./ErrorBoundary";

function Fragile() {
  const [broken, setBroken] = useState(false);
  if (broken) throw new Error("Cannot read properties of null (reading 'value')");
  return <button onClick={() => setBroken(true)}>Break</button>;
}

describe("ErrorBoundary", () => {
  it("shows what failed with a way back instead of a blank app, and tries again", async () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    renderWithApp(<ErrorBoundary resetKey="/audit-log"><Fragile /></ErrorBoundary>);
    const user = userEvent.setup();
    await user.click(screen.getByRole("button", { name: "Break" }));
    expect(screen.getByRole("alert")).toHaveTextContent("This page stopped working");
    expect(screen.getByRole("link", { name: "Back to the dashboard" })).toHaveAttribute("href", "/");
    await user.click(screen.getByRole("button", { name: "Try again" }));
    expect(screen.getByRole("button", { name: "Break" })).toBeInTheDocument();
  });
});
