import { describe, expect, it } from "vitest";
import { savedNotice } from "./reload";

describe("savedNotice", () => {
  it("is a plain green confirmation when Asterisk applied the change or is not provisioned here", () => {
    expect(savedNotice("Trunk created", { ok: true, outcome: "applied" })).toEqual({ color: "green", message: "Trunk created" });
    expect(savedNotice("Trunk created", null)).toEqual({ color: "green", message: "Trunk created" });
  });

  it("says in words that a rolled-back change is not in use, with the reason and what to do", () => {
    const notice = savedNotice("Trunk created", { ok: false, outcome: "rolled_back", reason: "endpoint trunk-x missing after reload" });
    expect(notice.color).toBe("orange");
    expect(notice.title).toBe("Trunk created, but calls do not use it yet");
    expect(notice.message).toBe("Asterisk refused the new configuration and went back to the previous one (endpoint trunk-x missing after reload). Fix the cause, then save again.");
  });
});
