import { screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { renderWithApp } from "../test/render";
import { OutcomesChart } from "./Charts";

describe("OutcomesChart", () => {
  it("draws outcomes only and names calls without one by their status", async () => {
    renderWithApp(<OutcomesChart outcomes={[{ outcome: "caller_hung_up", calls: 2 }]} withoutOutcome={[{ status: "failed", calls: 1 }]} />);
    expect(await screen.findByRole("img")).toHaveAccessibleName("Outcomes: Caller hung up 2");
    expect(screen.getByText("Without an outcome: 1 failed")).toBeInTheDocument();
  });
});
