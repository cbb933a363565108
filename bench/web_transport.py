"""Browser-call transports on loopback: WebRTC (aiortc, Opus) against our WebSocket PCM leg.

    uv run --frozen --no-sync python -m bench.web_transport [--calls 1,10] [--seconds 15]
        [--loss 0.05]

For each transport a server process (pinned to CPU 0 when it exists) echoes every call's
audio back to its caller, as a browser call's server side carries it without the pipeline:

* `webrtc`: one aiortc `RTCPeerConnection` per call (ICE on loopback, DTLS, SRTP); the
  caller's Opus is decoded by aiortc (its jitter buffer included) and the decoded frames are
  sent back, encoded to Opus again. Offers and answers go over the process's stdin/stdout.
* `websocket`: `WebLeg` behind a `websockets` server, 16-bit PCM at 16 kHz in 20 ms binary
  messages, paced back out on the shared ticker with the leg's 100 ms lead.

The client (this process) runs the callers: 20 ms of audio per call every 20 ms, silence with
a loud 20 ms click every second. It reports the server's CPU per call (its user + system time
over the measured window, 100 = one core), the click's round trip (caller to server and back:
twice a hop, the server's queue and the receivers' jitter buffers included; the page's own
60 ms playout buffer and the sound card are not in it; a click lost on the way is not
counted) and the share of the caller's frames that came back. `--loss` drops that
share of RTP packets at random in each direction (aiortc's sender, patched here); TCP cannot
lose audio, only delay it, and the WebSocket path is not run with loss.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

FRAME_S: Final = 0.02
# Opus in WebRTC runs at 48 kHz; the WebSocket wire is 16 kHz (web_calls.protocol).
RTC_RATE: Final = 48000
WS_RATE: Final = 16000
CLICK_EVERY: Final = 50  # frames: one click a second
CLICK_LEVEL: Final = 20000
# A received frame this loud carries the click (silence decodes to near zero).
CLICK_THRESHOLD: Final = 4000
WARMUP_S: Final = 3.0
SERVER_CPU: Final = 0
LOSS_SEED: Final = 22


def frame_pcm(rate: int, click: bool) -> bytes:
    samples = int(rate * FRAME_S)
    if not click:
        return bytes(samples * 2)
    t = np.arange(samples) / rate
    return (np.sin(2 * np.pi * 1000 * t) * CLICK_LEVEL).astype("<i2").tobytes()


def loud(pcm: bytes) -> bool:
    return bool(np.abs(np.frombuffer(pcm, "<i2")).max(initial=0) > CLICK_THRESHOLD)


@dataclass
class CallStats:
    """One caller's view: when its last click left, when clicks came back, how many frames
    did. A click that comes back is the last one sent (round trips stay under the second
    between clicks), so a click lost on the way is missing, not matched to the next one."""

    sent: int = 0
    received: int = 0
    round_trips_ms: list[float] = field(default_factory=list)
    _click_sent_at: float | None = None
    _heard_click: bool = False

    def on_received(self, pcm: bytes) -> None:
        self.received += 1
        click = loud(pcm)
        if click and not self._heard_click and self._click_sent_at is not None:
            self.round_trips_ms.append((time.monotonic() - self._click_sent_at) * 1000)
            self._click_sent_at = None
        self._heard_click = click

    def next_frame(self, rate: int) -> bytes:
        click = self.sent % CLICK_EVERY == CLICK_EVERY - 1
        if click:
            self._click_sent_at = time.monotonic()
        self.sent += 1
        return frame_pcm(rate, click)


# -- the server processes --------------------------------------------------------------


def drop_rtp(share: float) -> None:
    """Drop `share` of the RTP packets aiortc sends (RTCP goes through)."""
    from aiortc.rtcdtlstransport import RTCDtlsTransport
    from aiortc.rtp import is_rtcp

    send = RTCDtlsTransport._send_rtp
    rng = random.Random(LOSS_SEED + os.getpid())

    async def lossy(self: RTCDtlsTransport, data: bytes) -> None:
        if is_rtcp(data) or rng.random() >= share:
            await send(self, data)

    RTCDtlsTransport._send_rtp = lossy  # type: ignore[method-assign]


async def serve_webrtc(loss: float) -> None:
    """Answer offers read from stdin (one JSON line each); echo each call's audio."""
    from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
    from av import AudioFrame

    if loss:
        drop_rtp(loss)

    class Echo(MediaStreamTrack):
        kind = "audio"

        def __init__(self, source: MediaStreamTrack) -> None:
            super().__init__()
            self._source = source

        async def recv(self) -> AudioFrame:
            frame = await self._source.recv()
            assert isinstance(frame, AudioFrame)
            return frame

    peers: list[RTCPeerConnection] = []
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        offer = json.loads(line)
        pc = RTCPeerConnection()
        peers.append(pc)

        @pc.on("track")
        def on_track(track: MediaStreamTrack, pc: RTCPeerConnection = pc) -> None:
            pc.addTrack(Echo(track))

        await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], offer["type"]))
        # The echo track must exist before the answer: add it for the offered transceiver.
        await pc.setLocalDescription(await pc.createAnswer())
        answer = pc.localDescription
        sys.stdout.write(json.dumps({"sdp": answer.sdp, "type": answer.type}) + "\n")
        sys.stdout.flush()
    for pc in peers:
        await pc.close()


async def serve_websocket() -> None:
    """`WebLeg` per socket; every inbound frame is sent back through the leg."""
    from websockets.asyncio.server import ServerConnection, serve

    from web_calls.leg import WebLeg

    async def handler(ws: ServerConnection) -> None:
        async def close(code: int, reason: str) -> None:
            await ws.close(code, reason)

        leg = WebLeg(str(id(ws)), ws.send, close, read_timeout_s=None)

        async def echo() -> None:
            async for event in leg.events():
                if isinstance(event, bytes):
                    await leg.send(event)

        task = asyncio.create_task(echo())
        with contextlib.suppress(Exception):
            async for message in ws:
                if isinstance(message, bytes):
                    leg.on_audio(message)
        leg.on_disconnect()
        await leg.closed_and_flushed()
        task.cancel()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        sys.stdout.write(json.dumps({"port": port}) + "\n")
        sys.stdout.flush()
        await asyncio.get_running_loop().connect_read_pipe(asyncio.Protocol, sys.stdin)
        await asyncio.Event().wait()


# -- the client ------------------------------------------------------------------------


@dataclass
class Server:
    process: asyncio.subprocess.Process

    async def line(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        return dict(json.loads(await self.process.stdout.readline()))

    async def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(message) + "\n").encode())
        await self.process.stdin.drain()

    def cpu_s(self) -> float:
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        await self.process.wait()


async def start_server(*args: str) -> Server:
    pin = ["taskset", "-c", str(SERVER_CPU)] if (os.cpu_count() or 1) > 1 else []
    process = await asyncio.create_subprocess_exec(
        *pin, sys.executable, "-m", "bench.web_transport", *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    return Server(process)


async def webrtc_connect(server: Server, stats: CallStats) -> tuple[Any, Any]:
    """Offer a call to the server and take its answer: the connection and the echoed track."""
    from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
    from av import AudioFrame

    class Caller(MediaStreamTrack):
        kind = "audio"

        def __init__(self) -> None:
            super().__init__()
            self._start = time.monotonic()

        async def recv(self) -> AudioFrame:
            due = self._start + stats.sent * FRAME_S
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            pcm = stats.next_frame(RTC_RATE)
            frame = AudioFrame(format="s16", layout="mono", samples=len(pcm) // 2)
            frame.planes[0].update(pcm)
            frame.sample_rate = RTC_RATE
            frame.pts = (stats.sent - 1) * len(pcm) // 2
            frame.time_base = fractions.Fraction(1, RTC_RATE)
            return frame

    pc = RTCPeerConnection()
    pc.addTrack(Caller())
    received: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()
    pc.on("track", received.set_result)
    await pc.setLocalDescription(await pc.createOffer())
    await server.send({"sdp": pc.localDescription.sdp, "type": pc.localDescription.type})
    answer = await server.line()
    await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
    return pc, await received


async def webrtc_listen(pc: Any, track: Any, stats: CallStats, stop: asyncio.Event) -> None:
    try:
        while not stop.is_set():
            stats.on_received(mono_s16(await track.recv()))
    finally:
        await pc.close()


def mono_s16(frame: Any) -> bytes:
    """The first channel of a decoded (packed s16) frame."""
    samples = np.frombuffer(bytes(frame.planes[0]), "<i2")
    channels = len(frame.layout.channels)
    return samples[::channels].tobytes()


async def websocket_call(port: int, stats: CallStats, stop: asyncio.Event) -> None:
    from websockets.asyncio.client import connect

    async with connect(f"ws://127.0.0.1:{port}/", max_size=None) as ws:

        async def speak() -> None:
            start = time.monotonic()
            while not stop.is_set():
                await ws.send(stats.next_frame(WS_RATE))
                await asyncio.sleep(max(0.0, start + stats.sent * FRAME_S - time.monotonic()))

        speaker = asyncio.create_task(speak())
        try:
            async for message in ws:
                if isinstance(message, bytes):
                    stats.on_received(message)
                if stop.is_set():
                    break
        finally:
            speaker.cancel()


@dataclass
class Row:
    transport: str
    calls: int
    loss: float
    cpu_percent_per_call: float
    round_trip_p50_ms: float | None
    round_trip_p99_ms: float | None
    frames_back_percent: float


async def measure(
    transport: str,
    calls: int,
    seconds: float,
    loss: float,
    run_call: Callable[[CallStats, asyncio.Event], Coroutine[Any, Any, None]],
    server: Server,
) -> Row:
    stop = asyncio.Event()
    stats = [CallStats() for _ in range(calls)]
    tasks = [asyncio.create_task(run_call(s, stop)) for s in stats]
    await asyncio.sleep(WARMUP_S)
    cpu0, t0 = server.cpu_s(), time.monotonic()
    counts0 = [(s.sent, s.received, len(s.round_trips_ms)) for s in stats]
    await asyncio.sleep(seconds)
    cpu = (server.cpu_s() - cpu0) / (time.monotonic() - t0) * 100
    stop.set()
    _, pending = await asyncio.wait(tasks, timeout=5)
    for task in pending:
        task.cancel()
    trips = [t for s, (_, _, n) in zip(stats, counts0, strict=True) for t in s.round_trips_ms[n:]]
    sent = sum(s.sent - c[0] for s, c in zip(stats, counts0, strict=True))
    back = sum(s.received - c[1] for s, c in zip(stats, counts0, strict=True))
    quantiles = statistics.quantiles(trips, n=100) if len(trips) > 1 else None
    return Row(
        transport=transport,
        calls=calls,
        loss=loss,
        cpu_percent_per_call=round(cpu / calls, 2),
        round_trip_p50_ms=round(statistics.median(trips), 1) if trips else None,
        round_trip_p99_ms=round(quantiles[98], 1) if quantiles else None,
        frames_back_percent=round(100 * back / max(sent, 1), 1),
    )


async def run_webrtc(calls: int, seconds: float, loss: float) -> Row:
    if loss:
        drop_rtp(loss)
    server = await start_server("serve-webrtc", "--loss", str(loss))
    signalling = asyncio.Lock()  # one offer and answer at a time over the pipe

    async def call(stats: CallStats, stop: asyncio.Event) -> None:
        async with signalling:
            pc, track = await webrtc_connect(server, stats)
        await webrtc_listen(pc, track, stats, stop)

    try:
        return await measure("webrtc", calls, seconds, loss, call, server)
    finally:
        await server.stop()


async def run_websocket(calls: int, seconds: float) -> Row:
    server = await start_server("serve-websocket")
    port = int((await server.line())["port"])
    try:
        return await measure(
            "websocket", calls, seconds, 0.0, lambda s, e: websocket_call(port, s, e), server
        )
    finally:
        await server.stop()


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", nargs="?", default="bench")
    parser.add_argument("--calls", default="1,10")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--loss", type=float, default=0.0)
    args = parser.parse_args(argv)
    if args.mode == "serve-webrtc":
        await serve_webrtc(args.loss)
        return
    if args.mode == "serve-websocket":
        await serve_websocket()
        return
    for calls in (int(c) for c in args.calls.split(",")):
        rows = [await run_websocket(calls, args.seconds), await run_webrtc(calls, args.seconds, 0)]
        if args.loss:
            rows.append(await run_webrtc(calls, args.seconds, args.loss))
        for row in rows:
            sys.stdout.write(json.dumps(row.__dict__) + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    import uvloop

    uvloop.run(main(sys.argv[1:]))
