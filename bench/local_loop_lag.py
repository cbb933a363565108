"""Event-loop lag while the offline recognizer and voice work for several calls at once.

    uv run --frozen --no-sync python -m bench.local_loop_lag [--calls 4 8] [--speed 1.0]
        [--recognizer faster-whisper|pocketsphinx]

Each call streams a caller sentence (Piper speech through µ-law 8 kHz, upsampled to 16 kHz)
to its own offline recognizer (the default one unless `--recognizer`) in 20 ms frames at
`speed` times real time, while as many Piper voices each speak two sentences; a 5 ms ticker
on the loop records how late it wakes. Prints the longest gap, the wait for each call's first
final after end of speech, and the CPU the serving process and the local workers used.
`--options` are the recognizer's (JSON), e.g. '{"redecode_first": 1}'.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import resource
import statistics
import time
from pathlib import Path
from typing import Any

import msgspec

from ari_app.agent_loader import OFFLINE_DEFAULTS
from bench.providers_audio import telephone_speech
from media.formats import FRAME_MS
from providers import builtin
from providers.base import ProviderConfig, ProviderKind, STTProvider, TTSProvider
from providers.local import shared
from providers.registry import build

CALLER = (
    "Hi, I would like to know your opening hours please.",
    "Can I book an appointment for tomorrow morning?",
    "Sorry, where exactly are you located?",
    "How much does a haircut cost?",
)
AGENT = "We're open nine in the morning to six in the evening. Is there anything else?"
TICK_S = 0.005
FRAME_16K = 640
SILENCE = bytes(FRAME_16K * 15)
_CALLERS = itertools.count(1)


def rss_mb(pid: int | None = None) -> float:
    """Resident memory of a process (this one by default), from /proc."""
    status = Path(f"/proc/{pid or 'self'}/status").read_text()
    (line,) = [x for x in status.splitlines() if x.startswith("VmRSS:")]
    return int(line.split()[1]) / 1024


def workers_rss_mb() -> float | None:
    stats = shared.stats()
    if stats is None:
        return None
    return sum(rss_mb(w.pid) for w in stats.workers if w.pid is not None and w.alive)


class LagReport(msgspec.Struct, frozen=True):
    calls: int
    max_lag_ms: float
    final_wait_ms: list[float]
    texts: list[str]
    synthesized_s: list[float]
    server_cpu_s: float
    worker_cpu_s: float | None
    # Resident memory before the calls' providers connected and while they were open.
    server_rss_mb: tuple[float, float]
    workers_rss_mb: tuple[float | None, float | None]


async def _ticker(stop: asyncio.Event, lags: list[float]) -> None:
    loop = asyncio.get_running_loop()
    last = loop.time()
    while not stop.is_set():
        await asyncio.sleep(TICK_S)
        now = loop.time()
        lags.append(now - last - TICK_S)
        last = now


async def _recognize(stt: STTProvider, audio: bytes, speed: float) -> tuple[float, str]:
    """Stream `audio` as a caller would; (end of speech -> final seconds, final text)."""
    results = stt.transcripts()
    step = FRAME_MS / 1000 / speed
    next_frame = time.perf_counter()
    for start in range(0, len(audio), FRAME_16K):
        await stt.send_audio(audio[start : start + FRAME_16K])
        next_frame += step
        await asyncio.sleep(max(0.0, next_frame - time.perf_counter()))
    ended = time.perf_counter()
    await stt.end_utterance()
    async for result in results:
        if result.is_final:
            return time.perf_counter() - ended, result.text
    raise RuntimeError("no final transcript")


async def _speak(tts: TTSProvider) -> float:
    seconds = 0.0
    # Each synthesis its own text: the same one would be synthesized once and shared.
    async for chunk in tts.synthesize(f"{AGENT} You are caller number {next(_CALLERS)}."):
        seconds += len(chunk.pcm) / 2 / chunk.sample_rate
    return seconds


def caller_audio(calls: int) -> list[bytes]:
    """Each call's caller sentence as the recognizer hears it (made before timing starts)."""
    return [
        SILENCE + telephone_speech(CALLER[i % len(CALLER)], 0.3) + SILENCE for i in range(calls)
    ]


async def measure(
    audio: list[bytes],
    speed: float = 1.0,
    options: dict[str, Any] | None = None,
    recognizer: str = OFFLINE_DEFAULTS[ProviderKind.STT],
) -> LagReport:
    """Run len(audio) recognitions (by `recognizer` with these `options`) and as many
    syntheses at once, ticking the loop."""
    builtin.load_all()
    rss_before, workers_before = rss_mb(), workers_rss_mb()
    config = ProviderConfig(vendor=recognizer, options=options or {})
    stts = [build("stt", config) for _ in audio]
    ttss = [build("tts", ProviderConfig(vendor="piper")) for _ in audio]
    for provider in (*stts, *ttss):
        await provider.connect()
    assert all(isinstance(p, STTProvider) for p in stts)
    assert all(isinstance(p, TTSProvider) for p in ttss)
    stats = shared.stats()
    cpu_before = stats.cpu_seconds if stats is not None else None
    usage_before = resource.getrusage(resource.RUSAGE_SELF)
    stop, lags = asyncio.Event(), [0.0]
    ticker = asyncio.create_task(_ticker(stop, lags))
    try:
        heard = asyncio.gather(*(_recognize(s, a, speed) for s, a in zip(stts, audio, strict=True)))  # type: ignore[arg-type]
        spoken = asyncio.gather(*(_speak(t) for t in ttss))  # type: ignore[arg-type]
        finals, synthesized = await asyncio.gather(heard, spoken)
        rss_during, workers_during = rss_mb(), workers_rss_mb()
    finally:
        stop.set()
        await ticker
        for provider in (*stts, *ttss):
            await provider.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    stats = shared.stats()
    worker_cpu = None
    if stats is not None and cpu_before is not None:
        worker_cpu = stats.cpu_seconds - cpu_before
    return LagReport(
        calls=len(audio),
        max_lag_ms=max(lags) * 1000,
        final_wait_ms=[wait * 1000 for wait, _ in finals],
        texts=[text for _, text in finals],
        synthesized_s=list(synthesized),
        server_cpu_s=(usage.ru_utime + usage.ru_stime)
        - (usage_before.ru_utime + usage_before.ru_stime),
        worker_cpu_s=worker_cpu,
        server_rss_mb=(rss_before, rss_during),
        workers_rss_mb=(workers_before, workers_during),
    )


async def main(calls: list[int], speed: float, options: dict[str, Any], recognizer: str) -> None:
    for n in calls:
        report = await measure(caller_audio(n), speed, options, recognizer)
        waits = report.final_wait_ms
        workers = f"{report.worker_cpu_s:.2f}" if report.worker_cpu_s is not None else "n/a"
        print(
            f"{n:2} calls: loop max lag {report.max_lag_ms:7.1f} ms   final wait median "
            f"{statistics.median(waits):7.0f} ms max {max(waits):7.0f} ms   CPU s: server "
            f"{report.server_cpu_s:.2f} workers {workers}"
        )
        (before, during), (w_before, w_during) = report.server_rss_mb, report.workers_rss_mb
        w_text = f"{w_before:.0f} -> {w_during:.0f}" if w_before and w_during else "n/a"
        print(f"          RSS MB: server {before:.0f} -> {during:.0f}   workers {w_text}")
    await shared.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--options", type=json.loads, default={}, help="recognizer options")
    parser.add_argument("--recognizer", default=OFFLINE_DEFAULTS[ProviderKind.STT])
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.speed, args.options, args.recognizer))
