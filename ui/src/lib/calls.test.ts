import { describe, expect, it } from "vitest";
import { callBadge, parseCallSearch, recordingFileName } from "./calls";
import { parseSse } from "./liveCall";

describe("calls", () => {
  it("names a recording's download after the call: when it began (UTC) and both parties", () => {
    const call = { id: "c1", from_number: "+15551230000", to_number: "+1 (555) 765-0000", started_at: "2026-12-05T07:12:30Z", created_at: "2026-12-05T07:20:00Z" };
    expect(recordingFileName(call, "audio/flac")).toBe("call-2026-12-05-0712-+15551230000-to-+15557650000.flac");
    expect(recordingFileName({ ...call, started_at: null }, "audio/wav")).toBe("call-2026-12-05-0720-+15551230000-to-+15557650000.wav");
  });

  it("reads the search box as a call id or part of a number, as typed", () => {
    expect(parseCallSearch("")).toEqual({});
    expect(parseCallSearch(" +49 (30) 123-456 ")).toEqual({ number: "+4930123456" });
    expect(parseCallSearch("66666666-6666-4666-8666-66666666666A")).toEqual({ id: "66666666-6666-4666-8666-66666666666a" });
    expect(parseCallSearch("front desk")).toEqual({ invalid: true });
  });

  it("never shows a call that ended in an error as a green Completed", () => {
    expect(callBadge({ status: "completed", outcome: "error" })).toEqual({ color: "red", text: "Error" });
    expect(callBadge({ status: "completed", outcome: "agent_ended", error_reason: "stt: recognizer failed" }).color).toBe("red");
    expect(callBadge({ status: "completed", outcome: "agent_ended" })).toEqual({ color: "green", text: "Completed" });
    expect(callBadge({ status: "in-progress" })).toEqual({ color: "blue", text: "In progress" });
  });

  it("splits a server-sent event stream into whole events, keeping a partial one", () => {
    const { events, rest } = parseSse(': keep-alive\r\n\r\nevent: call\r\ndata: {"a":1}\r\n\r\nevent: ended\ndata: \n\nevent: call\ndata: {"b"');
    expect(events).toEqual([{ event: "call", data: '{"a":1}' }, { event: "ended", data: "" }]);
    expect(rest).toBe('event: call\ndata: {"b"');
  });
});
