"""Per-frame cost of the media hot path: µs per 20 ms frame, best and median of several runs.

    uv run --frozen --no-sync python -m bench.media_frames

Inbound: µ-law decode -> resample 8 -> 16 kHz -> VAD. Outbound: resample 24 -> 8 kHz -> µ-law
encode. Also the per-frame cost of the outbound queue and the AudioSocket framing.
Target: <= 20 µs each for inbound and outbound.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

import numpy as np

from media.codec import decode_to_pcm, encode_from_pcm
from media.formats import SLIN_8K, ULAW_8K
from media.g711 import ulaw_encode
from media.pacer import OutboundQueue
from media.resample import StreamResampler
from media.vad import VAD_PROFILES, BargeInSensitivity, VoiceActivityDetector

FRAMES = 5000
RUNS = 7


def _speechy(rate: int, seconds: float) -> np.ndarray:
    rng = np.random.default_rng(3)
    t = np.arange(int(rate * seconds)) / rate
    voice = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 20))
    return (
        3000 * voice * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)) + rng.normal(0, 50, t.size)
    ).astype("<i2")


def _time(step: Callable[[int], object], frames: int = FRAMES) -> tuple[float, float]:
    """(best, median) µs per call of step(i) over RUNS runs.

    The best run is the code's own cost; the median shows what sharing the CPU does to it.
    """
    results = []
    for _ in range(RUNS):
        start = time.perf_counter()
        for i in range(frames):
            step(i)
        results.append((time.perf_counter() - start) / frames * 1e6)
    return min(results), statistics.median(results)


def main() -> None:
    ulaw_frames = [ulaw_encode(f.tobytes()) for f in _speechy(8000, 10.0).reshape(-1, 160)]
    slin8_frames = [f.tobytes() for f in _speechy(8000, 10.0).reshape(-1, 160)]
    tts24 = [f.tobytes() for f in _speechy(24000, 10.0).reshape(-1, 480)]
    n = len(ulaw_frames)
    profile = VAD_PROFILES[BargeInSensitivity.MEDIUM]

    up = StreamResampler(8000, 16000)
    vad16 = VoiceActivityDetector(16000, profile)
    pending = bytearray()

    def inbound(i: int) -> None:
        pcm = decode_to_pcm(ulaw_frames[i % n], ULAW_8K)
        pending.extend(up.process(pcm))
        if len(pending) >= 640:
            vad16.process(bytes(pending[:640]))
            del pending[:640]

    vad8 = VoiceActivityDetector(8000, profile)

    def inbound_8k(i: int) -> None:
        vad8.process(decode_to_pcm(ulaw_frames[i % n], ULAW_8K))

    down_rt = StreamResampler(24000, 8000)
    down_bulk = StreamResampler(24000, 8000, low_latency=False)

    def outbound_rt(i: int) -> None:
        encode_from_pcm(down_rt.process(tts24[i % n]), ULAW_8K)

    def outbound_bulk(i: int) -> None:
        encode_from_pcm(down_bulk.process(tts24[i % n]), ULAW_8K)

    queue = OutboundQueue(SLIN_8K)
    header = b"\x10\x01\x40"

    def queue_and_frame(i: int) -> None:
        queue.push(slin8_frames[i % n])
        frame = queue.pop_frame()
        assert frame is not None
        _ = header + frame

    rows = [
        ("inbound  µ-law decode + 8->16 kHz (low latency) + VAD 16k", _time(inbound)),
        ("inbound  µ-law decode + VAD 8k (no resample)", _time(inbound_8k)),
        ("outbound 24->8 kHz low-latency resample + µ-law encode", _time(outbound_rt)),
        ("outbound 24->8 kHz FFT resample (bulk TTS) + µ-law encode", _time(outbound_bulk)),
        ("outbound queue push + pop + AudioSocket header", _time(queue_and_frame)),
        ("µ-law decode only", _time(lambda i: decode_to_pcm(ulaw_frames[i % n], ULAW_8K))),
        ("µ-law encode only", _time(lambda i: ulaw_encode(slin8_frames[i % n]))),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"µs per 20 ms frame, {RUNS} runs x {FRAMES} frames; load average {os.getloadavg()}")
    print(f"  {'':<{width}}  {'best':>6}  {'median':>6}")
    for name, (best, median) in rows:
        print(f"  {name:<{width}}  {best:6.2f}  {median:6.2f}")


if __name__ == "__main__":
    main()
