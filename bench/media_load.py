"""Calls per core: simulated Asterisk calls against the media transports, real time, real sockets.

    uv run --frozen --no-sync python -m bench.media_load [--calls 50,100,200,400,800]
        [--seconds 12] [--transports audiosocket,rtp] [--pacing shared|per_leg]
        [--pipeline full|bare] [--nice -10]

For each transport and N, a server process pinned to CPU 0 runs the real transport with an
echo pipeline per call (decode -> 8->16 kHz -> VAD -> 16->8 kHz -> encode -> `leg.send`, paced
by the leg; all legs on one shared 20 ms ticker, or one ticker per leg with --pacing per_leg;
`--pipeline bare` sends each inbound frame straight back, the transport's own cost), and a
client process pinned to CPU 1 plays N Asterisk calls: 20 ms of audio per call every 20 ms,
recording when each echoed frame arrives.

Reported: server CPU % over the measured window; wait %, the time the server was runnable but
waiting for its CPU (other processes on the machine), which explains late frames its own CPU %
does not; p50/p99/max interval between consecutive frames of a call as the client sees them;
intervals over 40 ms (a frame late); frames lost (sent - echoed, beyond the pipeline's delay);
server RSS per call. Targets: >= 200 calls per core with p99 <= 25 ms, no drops, <= 2 MiB per
call.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np

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
from media.audiosocket import AudioSocketLeg, AudioSocketServer
from media.codec import decode_to_pcm, encode_from_pcm
from media.formats import ULAW_8K
from media.leg import MediaLeg, MediaLegClosed
from media.pacer import FrameTicker
from media.resample import StreamResampler
from media.rtp import PT_PCMU, RtpLeg, RtpPortPool
from media.vad import VAD_PROFILES, BargeInSensitivity, VoiceActivityDetector

RTP_BASE_PORT = 46000


# -- server -------------------------------------------------------------------------------


class EchoStats:
    def __init__(self) -> None:
        self.legs: list[MediaLeg] = []
        self.speech_events = 0


async def bare_echo(leg: MediaLeg, stats: EchoStats) -> None:
    """Transport cost alone: every inbound frame goes straight back."""
    try:
        async for event in leg.events():
            if isinstance(event, bytes):
                await leg.send(event)
    except MediaLegClosed:
        pass


async def echo(leg: MediaLeg, stats: EchoStats) -> None:
    """What a call's pipeline does to every frame, minus STT/LLM/TTS: through and back."""
    fmt = leg.format
    up = StreamResampler(fmt.sample_rate, 16000)
    # Outbound audio comes from TTS faster than real time, so the pipeline resamples it with
    # the cheap FFT engine (see media.resample); the pacer smooths its 60-100 ms blocks.
    down = StreamResampler(16000, fmt.sample_rate, low_latency=False)
    vad = VoiceActivityDetector(16000, VAD_PROFILES[BargeInSensitivity.MEDIUM])
    pending = bytearray()
    try:
        async for event in leg.events():
            if not isinstance(event, bytes):
                continue
            pcm16 = up.process(decode_to_pcm(event, fmt))
            pending += pcm16
            if len(pending) >= 640:
                if vad.process(bytes(pending[:640])) is not None:
                    stats.speech_events += 1
                del pending[:640]
            out = encode_from_pcm(down.process(pcm16), fmt)
            if out:
                await leg.send(out)
    except MediaLegClosed:
        pass


async def run_server(
    transport: str, calls: int, pacing: str, pipeline: str, loop_name: str
) -> None:
    # Legs that fail (e.g. the client resetting at the end) are counted below, not logged.
    logging.basicConfig(level=logging.ERROR)
    stats = EchoStats()
    run = echo if pipeline == "full" else bare_echo
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    tasks: set[asyncio.Task[None]] = set()
    ready: dict[str, Any] = {"loop": loop_name}
    server: AudioSocketServer | None = None
    if transport == "audiosocket":

        async def on_leg(_: uuid.UUID, leg: AudioSocketLeg) -> None:
            stats.legs.append(leg)
            task = asyncio.create_task(run(leg, stats))
            tasks.add(task)

        server = AudioSocketServer(
            "127.0.0.1",
            0,
            on_leg,
            health_port=None,
            read_timeout_s=None,
            shared_pacing=pacing == "shared",
        )
        await server.start()
        ready["port"] = server.port
    else:
        pool = RtpPortPool(RTP_BASE_PORT, RTP_BASE_PORT + 2 * calls + 200)
        ports = []
        for _ in range(calls):
            rtp_leg = await RtpLeg.open(
                pool,
                ULAW_8K,
                host="127.0.0.1",
                read_timeout_s=None,
                ticker=None if pacing == "shared" else FrameTicker(),
            )
            stats.legs.append(rtp_leg)
            tasks.add(asyncio.create_task(run(rtp_leg, stats)))
            ports.append(rtp_leg.local_port)
        ready["ports"] = ports
    print(json.dumps(ready), flush=True)
    await stop.wait()
    tickers = {
        id(t): t for t in (getattr(leg, "_ticker", None) for leg in stats.legs) if t is not None
    }
    ticker_stats = [t.stats() for t in tickers.values()]
    result = {
        "ticker": {
            "late_ticks": sum(int(t["late_ticks"]) for t in ticker_stats),
            "reanchors": sum(int(t["reanchors"]) for t in ticker_stats),
            "max_lag_ms": max((float(t["max_lag_ms"]) for t in ticker_stats), default=0.0),
        },
        "legs": len(stats.legs),
        "frames_out": sum(getattr(leg, "frames_out", 0) for leg in stats.legs),
        "frames_dropped": sum(getattr(leg, "frames_dropped", 0) for leg in stats.legs),
        "inbound_dropped": sum(getattr(leg, "inbound_dropped", 0) for leg in stats.legs),
        "legs_failed": sum(1 for leg in stats.legs if getattr(leg, "failed", False)),
    }
    print(json.dumps(result), flush=True)
    for leg in stats.legs:
        await leg.hangup()
    if server is not None:
        await server.stop()


# -- client -------------------------------------------------------------------------------


async def run_client(transport: str, calls: int, seconds: float, target: dict[str, Any]) -> None:
    from tests.fakes.audiosocket_caller import AudioSocketCaller
    from tests.fakes.rtp_caller import RtpCaller, rtp_packet

    t = np.arange(160) / 8000
    tone = (6000 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()
    if transport == "audiosocket":
        callers: list[Any] = []
        for _ in range(calls):
            c = await AudioSocketCaller.connect("127.0.0.1", target["port"], keep_payloads=False)
            c.send_uuid(uuid.uuid4())
            callers.append(c)
        audio = b"\x10\x01\x40" + tone

        def send(c: Any, i: int) -> None:
            c.send(audio)

        def times(c: Any) -> list[float]:
            return c.audio_times  # type: ignore[no-any-return]
    else:
        callers = [
            await RtpCaller.open(("127.0.0.1", port), keep_payloads=False)
            for port in target["ports"]
        ]
        payload = encode_from_pcm(tone, ULAW_8K)

        def send(c: Any, i: int) -> None:
            c.send_raw(rtp_packet(PT_PCMU, c.seq + i, 160 * (i + 1), c.ssrc, payload))

        def times(c: Any) -> list[float]:
            return c.arrival_times  # type: ignore[no-any-return]

    async def send_group(group: Sequence[Any], i: int) -> None:
        for c in group:
            send(c, i)

    frames = int(seconds * 50)
    start, late_sends = await send_paced(callers, frames, send_group)
    await asyncio.sleep(0.5)
    stats = interval_stats([times(c) for c in callers], frames, start + WARMUP_S)
    print(json.dumps({**stats, "client_late_sends": late_sends}), flush=True)
    for c in callers:
        c.close()


# -- orchestration ------------------------------------------------------------------------


def _step(
    transport: str, calls: int, seconds: float, pacing: str, pipeline: str, nice: int
) -> dict[str, Any]:
    result = measure_step(
        "bench.media_load",
        nice,
        [transport, str(calls), pacing, pipeline],
        lambda ready: [transport, str(calls), str(seconds), json.dumps(ready)],
        calls,
        seconds,
    )
    return {"transport": transport, "pacing": pacing, "pipeline": pipeline, **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", default="50,100,200,400,800")
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--transports", default="audiosocket,rtp")
    parser.add_argument(
        "--pacing", default="shared", help="shared (one ticker for all legs) or per_leg"
    )
    parser.add_argument(
        "--pipeline", default="full", help="full (the DSP echo) or bare (transport alone)"
    )
    add_nice_argument(parser)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    print(f"server pinned to CPU {SERVER_CPU}, client to CPU {CLIENT_CPU}")
    header = (
        f"{'transport':<12}{'calls':>6}{'cpu%':>7}{'wait%':>7}{'p50ms':>7}{'p99ms':>7}{'maxms':>8}"
        f"{'late':>7}{'lost':>7}{'KiB/call':>9}{'ticks late/reanch':>19}"
    )
    print(header)
    for transport in args.transports.split(","):
        for calls in (int(n) for n in args.calls.split(",")):
            r = _step(transport, calls, args.seconds, args.pacing, args.pipeline, args.nice)
            tick = r["server"]["ticker"]
            print(
                f"{transport:<12}{calls:>6}{r['cpu_pct']:>7.1f}{r['cpu_wait_pct']:>7.1f}"
                f"{r['p50_ms']:>7.1f}"
                f"{r['p99_ms']:>7.1f}{r['max_ms']:>8.1f}{r['late']:>7}{r['missing']:>7}"
                f"{r['rss_per_call_kib']:>9.0f}{tick['late_ticks']:>10}/{tick['reanchors']}",
                flush=True,
            )
            with (
                contextlib.suppress(OSError),
                open(
                    f"/tmp/media_load_{transport}_{calls}_{args.pacing}_{args.pipeline}.json", "w"
                ) as f,
            ):
                json.dump(r, f)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__" and not run_role(
    lambda a, loop: run_server(a[0], int(a[1]), a[2], a[3], loop),
    lambda a: run_client(a[0], int(a[1]), float(a[2]), json.loads(a[3])),
):
    main()
