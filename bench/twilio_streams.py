"""Twilio Media Streams per core: N concurrent streams against the real `/twilio/stream`
endpoint (uvicorn + Litestar + `TwilioLeg`), in real time over real sockets.

    uv run --frozen --no-sync python -m bench.twilio_streams [--calls 50,100,200,400]
        [--seconds 10] [--pipeline full|bare] [--ws auto|websockets-sansio|wsproto]

A server process pinned to CPU 0 serves the Twilio stream route; each stream's start carries
a real sealed stream token, and the connected `TwilioLeg` goes to a call body: `talk` (the
default) runs the caller's audio through decode -> 8->16 kHz -> VAD and keeps the agent
talking with TTS-sized chunks, paced by the leg on the shared 20 ms ticker; `echo` is the
media core's DSP echo (outbound only as fast as inbound arrives, so Twilio's lead cannot
build); `bare` sends each frame straight back. Per-call state
that Redis would hold is kept in memory here: it is touched once per stream, not per frame.
A client process pinned to CPU 1 plays Twilio: `connected`, `start`, then one `media` JSON
message per call every 20 ms, and records when each outbound `media` message arrives.

Reported: server CPU % over the measured window and wait % (runnable but waiting for its CPU,
i.e. other load on this shared machine); p50/p99/max interval between consecutive outbound
messages of a call; intervals over 40 ms; frames lost; how often Twilio's play-out buffer
would have run dry (gaps; the leg keeps a 60 ms lead there, so a late message is not
necessarily a gap) and the silence that makes per call-minute; server RSS per call. Targets
(the media core's): >= 200 calls per core with p99 <= 25 ms, no drops, <= 2 MiB per call.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np
import structlog

from bench._load_report import (
    CLIENT_CPU,
    SERVER_CPU,
    WARMUP_S,
    add_nice_argument,
    interval_stats,
    measure_step,
    run_role,
    send_paced,
)
from bench.media_load import EchoStats, bare_echo, echo
from media.codec import decode_to_pcm, encode_from_pcm
from media.leg import MediaLeg, MediaLegClosed
from media.resample import StreamResampler
from media.vad import VAD_PROFILES, BargeInSensitivity, VoiceActivityDetector

BENCH_KEY = "bench-twilio-streams-key-0123456789abcdef"
TENANT = uuid.UUID(int=1)
AGENT = uuid.UUID(int=2)


# -- server -------------------------------------------------------------------------------


# The agent's speech comes from TTS faster than real time, in chunks of about this length.
TTS_CHUNK_MS = 200


async def talk(leg: MediaLeg, stats: EchoStats) -> None:
    """A call while the agent talks: caller audio through decode -> 8->16 kHz -> VAD (the STT
    side), agent audio sent in TTS-sized chunks as fast as the leg takes them."""
    fmt = leg.format
    t = np.arange(fmt.sample_rate * TTS_CHUNK_MS // 1000) / fmt.sample_rate
    speech = encode_from_pcm((5000 * np.sin(2 * np.pi * 300 * t)).astype("<i2").tobytes(), fmt)
    up = StreamResampler(fmt.sample_rate, 16000)
    vad = VoiceActivityDetector(16000, VAD_PROFILES[BargeInSensitivity.MEDIUM])

    async def speak() -> None:
        with contextlib.suppress(MediaLegClosed):
            while True:
                await leg.send(speech)  # waits at the leg's high-water mark

    speaker = asyncio.create_task(speak())
    pending = bytearray()
    try:
        async for event in leg.events():
            if isinstance(event, bytes):
                pending += up.process(decode_to_pcm(event, fmt))
                if len(pending) >= 640:
                    if vad.process(bytes(pending[:640])) is not None:
                        stats.speech_events += 1
                    del pending[:640]
    finally:
        speaker.cancel()


async def run_server(calls: int, pipeline: str, ws: str, loop_name: str) -> None:
    import uvicorn
    from litestar import Litestar

    from ari_app.call import Call
    from store.secrets import SecretBox
    from twilio_adapter.leg import TwilioLeg
    from twilio_adapter.routes import stream_route
    from twilio_adapter.state import TwilioCall, TwilioCallStore
    from twilio_adapter.stream import StreamServices
    from twilio_adapter.token import StreamTokens

    logging.disable(logging.WARNING)  # a closing leg logs at INFO; hundreds of them here
    # structlog writes to stdout, which carries this process's JSON answers.
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )
    stats = EchoStats()
    run = {"talk": talk, "echo": echo, "bare": bare_echo}[pipeline]

    class MemoryCalls(TwilioCallStore):
        """The Redis state of `TwilioCallStore`, in memory (touched once per stream)."""

        def __init__(self) -> None:
            self._claimed: set[uuid.UUID] = set()

        async def get(self, call_id: uuid.UUID) -> TwilioCall | None:
            return None

        async def claim_stream(self, call_id: uuid.UUID) -> bool:
            fresh = call_id not in self._claimed
            self._claimed.add(call_id)
            return fresh

    async def hand_off(call: Call, leg: MediaLeg) -> None:
        assert isinstance(leg, TwilioLeg)
        stats.legs.append(leg)
        await run(leg, stats)

    services = StreamServices(StreamTokens(SecretBox(BENCH_KEY), ttl_s=3600), MemoryCalls(),
                              None, None, hand_off)  # type: ignore[arg-type]  # fmt: skip

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(Litestar(route_handlers=[stream_route(services)]), log_level="error",
                            lifespan="off", ws=ws, access_log=False)  # fmt: skip
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no start-up event
        await asyncio.sleep(0.01)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print(json.dumps({"loop": loop_name, "port": sock.getsockname()[1]}), flush=True)
    await stop.wait()
    ticker = next((getattr(leg, "_ticker", None) for leg in stats.legs), None)
    legs = [leg for leg in stats.legs if isinstance(leg, TwilioLeg)]
    print(json.dumps({
        "ticker": ticker.stats() if ticker is not None else {},
        "legs": len(legs),
        "frames_out": sum(leg.frames_out for leg in legs),
        "inbound_dropped": sum(leg.inbound_dropped for leg in legs),
        "legs_failed": sum(1 for leg in legs if leg.failed),
        "failures": sorted({str(leg.close_reason) for leg in legs if leg.failed}),
    }), flush=True)  # fmt: skip
    server.should_exit = True
    with contextlib.suppress(Exception):
        await asyncio.wait_for(serving, 10)


# -- client -------------------------------------------------------------------------------


async def run_client(calls: int, seconds: float, port: int) -> None:
    import aiohttp

    from media.formats import ULAW_8K
    from store.secrets import SecretBox
    from twilio_adapter.token import StreamClaims, StreamTokens

    tokens = StreamTokens(SecretBox(BENCH_KEY), ttl_s=3600)
    t = np.arange(160) / 8000
    tone = (6000 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()
    payload = base64.b64encode(encode_from_pcm(tone, ULAW_8K)).decode()
    url = f"http://127.0.0.1:{port}/twilio/stream"
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    arrivals: list[list[float]] = []
    conns: list[tuple[Any, str]] = []
    readers: list[asyncio.Task[None]] = []

    async def reader(ws: Any, times: list[float]) -> None:
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT and msg.data.startswith('{"event":"media"'):
                times.append(time.monotonic())

    for _ in range(calls):
        call_sid, stream_sid = "CA" + uuid.uuid4().hex, "MZ" + uuid.uuid4().hex
        token = tokens.issue(StreamClaims(tenant_id=TENANT, call_id=uuid.uuid4(), agent_id=AGENT,
                                          call_sid=call_sid, direction="inbound"))  # fmt: skip
        ws = await session.ws_connect(url, autoping=False, max_msg_size=2**20)
        await ws.send_str('{"event":"connected","protocol":"Call","version":"1.0.0"}')
        await ws.send_str(json.dumps({
            "event": "start", "sequenceNumber": "1", "streamSid": stream_sid,
            "start": {"streamSid": stream_sid, "accountSid": "AC" + "0" * 32,
                      "callSid": call_sid, "tracks": ["inbound"],
                      "customParameters": {"token": token},
                      "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000,
                                      "channels": 1}}}))  # fmt: skip
        times: list[float] = []
        arrivals.append(times)
        conns.append((ws, stream_sid))
        readers.append(asyncio.create_task(reader(ws, times)))

    async def send_group(group: Sequence[tuple[Any, str]], i: int) -> None:
        for ws, sid in group:
            if ws.closed:
                continue
            with contextlib.suppress(aiohttp.ClientError, ConnectionError):
                await ws.send_str(
                    f'{{"event":"media","sequenceNumber":"{i + 2}","streamSid":"{sid}",'
                    f'"media":{{"track":"inbound","chunk":"{i + 1}","timestamp":"{i * 20}",'
                    f'"payload":"{payload}"}}}}'
                )

    frames = int(seconds * 50)
    start, late_sends = await send_paced(conns, frames, send_group)
    await asyncio.sleep(0.5)
    wall_from = start + WARMUP_S
    gaps, gap_s = 0, 0.0
    for times in arrivals:
        ts = np.asarray(times)
        if len(ts[ts >= wall_from]) > 1:
            n, s = _underruns(ts, wall_from)
            gaps, gap_s = gaps + n, gap_s + s
    print(json.dumps({
        **interval_stats(arrivals, frames, wall_from),
        "gaps": gaps,
        "gap_ms_per_call_min": gap_s * 1000 / calls / max(1e-9, (seconds - WARMUP_S) / 60),
        "client_late_sends": late_sends,
        "closed_early": sum(1 for ws, _ in conns if ws.closed),
    }), flush=True)  # fmt: skip
    # Like Twilio: `stop`, then the server closes the socket.
    for ws, sid in conns:
        with contextlib.suppress(Exception):
            await ws.send_str(f'{{"event":"stop","sequenceNumber":"0","streamSid":"{sid}"}}')
    await asyncio.wait(readers, timeout=10)
    for task in readers:
        task.cancel()
    await session.close()


def _underruns(arrivals: np.ndarray, counted_from: float) -> tuple[int, float]:
    """What the caller hears: Twilio plays each 20 ms frame after the previous one, or on
    arrival if its buffer had run dry; returns how often it ran dry from `counted_from` on,
    and the silence that made."""
    play_end = float(arrivals[0]) + 0.02
    gaps, silence = 0, 0.0
    for t in arrivals[1:]:
        if t > play_end + 0.001:
            if t >= counted_from:
                gaps += 1
                silence += t - play_end
            play_end = float(t) + 0.02
        else:
            play_end += 0.02
    return gaps, silence


# -- orchestration ------------------------------------------------------------------------


def _step(calls: int, seconds: float, pipeline: str, ws: str, nice: int) -> dict[str, Any]:
    result = measure_step(
        "bench.twilio_streams",
        nice,
        [str(calls), pipeline, ws],
        lambda ready: [str(calls), str(seconds), str(ready["port"])],
        calls,
        seconds,
    )
    return {"pipeline": pipeline, "ws": ws, **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", default="50,100,200,400")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--pipeline",
        default="talk",
        help="talk (caller audio to VAD, agent speech from TTS-sized chunks), echo (the media "
        "core's DSP echo: outbound only as fast as the caller's audio) or bare (frames back)",
    )
    parser.add_argument("--ws", default="auto", help="uvicorn WebSocket implementation")
    add_nice_argument(parser)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    print(f"server pinned to CPU {SERVER_CPU}, client to CPU {CLIENT_CPU}; ws={args.ws}")
    print(f"{'calls':>6}{'cpu%':>7}{'wait%':>7}{'p50ms':>7}{'p99ms':>7}{'maxms':>8}{'late':>7}"
          f"{'lost':>7}{'gaps':>7}{'gapms/min':>10}{'failed':>7}{'KiB/call':>9}"
          f"{'cl.late':>8}")  # fmt: skip
    for calls in (int(n) for n in args.calls.split(",")):
        r = _step(calls, args.seconds, args.pipeline, args.ws, args.nice)
        print(f"{calls:>6}{r['cpu_pct']:>7.1f}{r['cpu_wait_pct']:>7.1f}{r['p50_ms']:>7.1f}"
              f"{r['p99_ms']:>7.1f}{r['max_ms']:>8.1f}{r['late']:>7}{r['missing']:>7}"
              f"{r['gaps']:>7}{r['gap_ms_per_call_min']:>10.1f}{r['server']['legs_failed']:>7}{r['rss_per_call_kib']:>9.0f}"
              f"{r['client_late_sends']:>8}", flush=True)  # fmt: skip
        if r["closed_early"]:
            print(f"        streams the server closed during the run: {r['closed_early']}")
        for reason in r["server"]["failures"]:
            print(f"        failed: {reason}")
        with contextlib.suppress(OSError), open(f"/tmp/twilio_streams_{calls}.json", "w") as f:
            json.dump(r, f)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__" and not run_role(
    lambda a, loop: run_server(int(a[0]), a[1], a[2], loop),
    lambda a: run_client(int(a[0]), float(a[1]), int(a[2])),
):
    main()
