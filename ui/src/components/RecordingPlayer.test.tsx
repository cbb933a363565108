import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import { describe, expect, it, vi } from "vitest";
import { tokenStore } from "../api/client";
import { renderWithApp } from "../test/render";
import { RecordingPlayer } from "./RecordingPlayer";

describe("RecordingPlayer", () => {
  it("fetches the recording with the session token and plays it from memory", async () => {
    tokenStore.set("tok");
    const seen: string[] = [];
    vi.stubGlobal("fetch", async (input: URL, init: RequestInit) => {
      seen.push(`${input.pathname} ${new Headers(init.headers).get("Authorization")}`);
      return new Response(new Uint8Array([82, 73, 70, 70]), { status: 200, headers: { "content-type": "audio/wav" } });
    });
    vi.stubGlobal("URL", Object.assign(URL, { createObjectURL: () => "blob:recording-1", revokeObjectURL: () => {} }));
    renderWithApp(<RecordingPlayer url="/api/v1/calls/c1/recording" fileName={() => "call.flac"} />);
    const player = await screen.findByLabelText("Call recording");
    expect(player).toHaveAttribute("src", "blob:recording-1");
    expect(seen).toEqual(["/api/v1/calls/c1/recording Bearer tok"]);
  });

  it("seeks to where it is asked to play from and downloads under the call's name", async () => {
    vi.stubGlobal("fetch", async () => new Response(new Uint8Array([102, 76, 97, 67]), { status: 200, headers: { "content-type": "audio/flac" } }));
    vi.stubGlobal("URL", Object.assign(URL, { createObjectURL: () => "blob:recording-2", revokeObjectURL: () => {} }));
    const play = vi.spyOn(HTMLMediaElement.prototype, "play").mockResolvedValue(undefined);
    function FromALine() {
      const [seek, setSeek] = useState<{ ms: number } | null>(null);
      return (
        <>
          <button type="button" onClick={() => setSeek({ ms: 3_100 })}>From 0:03</button>
          <RecordingPlayer url="/api/v1/calls/c2/recording" fileName={(type) => `call-c2.${type.split("/")[1]}`} seek={seek} />
        </>
      );
    }
    renderWithApp(<FromALine />);
    const player = await screen.findByLabelText<HTMLAudioElement>("Call recording");
    expect(screen.getByRole("link", { name: "Download recording" })).toHaveAttribute("download", "call-c2.flac");
    await userEvent.setup().click(screen.getByRole("button", { name: "From 0:03" }));
    await waitFor(() => expect(player.currentTime).toBe(3.1));
    expect(play).toHaveBeenCalled();
  });

  it("says no audio was recorded for an empty recording instead of a dead 0:00 player", async () => {
    vi.stubGlobal("fetch", async () => new Response(new Uint8Array([]), { status: 200, headers: { "content-type": "audio/wav" } }));
    vi.stubGlobal("URL", Object.assign(URL, { createObjectURL: () => "blob:recording-0", revokeObjectURL: () => {} }));
    renderWithApp(<RecordingPlayer url="/api/v1/calls/c1/recording" fileName={() => "call.flac"} />);
    expect(await screen.findByRole("alert")).toHaveTextContent("No audio recorded");
    expect(screen.queryByLabelText("Call recording")).toBeNull();
  });

  it("says why there is nothing to play", async () => {
    vi.stubGlobal("fetch", async () => new Response(JSON.stringify({ title: "Not Found", status: 404, detail: "recordings are not available on this deployment" }),
      { status: 404, headers: { "content-type": "application/problem+json" } }));
    renderWithApp(<RecordingPlayer url="/api/v1/calls/c1/recording" fileName={() => "call.flac"} />);
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("Recording unavailable");
    expect(alert).toHaveTextContent("recordings are not available on this deployment");
  });
});

describe("RecordingPlayer on a failing server", () => {
  it("reports a server error as an error", async () => {
    vi.stubGlobal("fetch", async () => new Response(JSON.stringify({ title: "Service Unavailable", status: 503, detail: "PostgreSQL is unavailable" }),
      { status: 503, headers: { "content-type": "application/problem+json" } }));
    renderWithApp(<RecordingPlayer url="/api/v1/calls/c1/recording" fileName={() => "call.flac"} />);
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("Something went wrong");
    expect(alert).toHaveTextContent("PostgreSQL is unavailable");
  });
});
