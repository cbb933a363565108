import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { ApiProblem } from "../api/problem";
import { renderWithApp } from "../test/render";
import { OriginateForm } from "./OriginateForm";

const agents = [{ id: "a1", name: "Sales outbound" }];
const trunks = [{ id: "t1", name: "carrier-main" }];

describe("OriginateForm", () => {
  it("places a call with its variables, now", async () => {
    const onSubmit = vi.fn().mockResolvedValue(undefined);
    renderWithApp(<OriginateForm agents={agents} trunks={trunks} onSubmit={onSubmit} onCancel={() => {}} />);
    const user = userEvent.setup();
    await user.type(screen.getByRole("textbox", { name: "To" }), "+4930123456");
    await user.click(screen.getByRole("button", { name: "Add variable" }));
    await user.type(screen.getByRole("textbox", { name: "Variable 1 name" }), "customer");
    await user.type(screen.getByRole("textbox", { name: "Variable 1 value" }), "Ada");
    await user.click(screen.getByRole("button", { name: "Place call" }));
    await waitFor(() => expect(onSubmit).toHaveBeenCalledOnce());
    expect(onSubmit.mock.calls[0]![0]).toEqual({
      agent_id: "a1", to: "+4930123456", from: null, trunk_id: null, variables: { customer: "Ada" }, schedule_at: null,
      override_do_not_call: false,
    });
  });

  it("refuses a number that is not one, and shows the API's reasons under the fields", async () => {
    const onSubmit = vi.fn().mockRejectedValueOnce(new ApiProblem(422, "Unprocessable Content", "x", [{ field: "trunk_id", reason: "no such trunk" }]));
    renderWithApp(<OriginateForm agents={agents} trunks={trunks} onSubmit={onSubmit} onCancel={() => {}} />);
    const user = userEvent.setup();
    await user.type(screen.getByRole("textbox", { name: "To" }), "call me");
    await user.click(screen.getByRole("button", { name: "Place call" }));
    expect(await screen.findByText("Digits only, optionally with a leading +")).toBeInTheDocument();
    expect(onSubmit).not.toHaveBeenCalled();
    await user.clear(screen.getByRole("textbox", { name: "To" }));
    await user.type(screen.getByRole("textbox", { name: "To" }), "004930123456");
    await user.click(screen.getByRole("button", { name: "Place call" }));
    await waitFor(() => expect(screen.getByRole("textbox", { name: "Trunk" })).toHaveAccessibleDescription("no such trunk"));
  });
});
