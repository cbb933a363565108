"""What Silero in the local workers costs a call: the serving process's CPU for sending each
frame off (the loop's share) and the worker's CPU for the model.

    uv run --frozen --no-sync python -m bench.vad_worker [--calls 4] [--seconds 20]

`--calls` calls' inbound paths run side by side on one loop at the line's pace (a 20 ms
tick), each on a telephone-set recording looped, through `InboundAudio` with `vad: silero`,
then again with webrtcvad for the baseline. The machine is shared: figures are upper bounds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from bench.turn_set import DEFAULT_CACHE, build, load_pcm
from media.formats import FRAME_MS, SLIN_8K
from media.vad import VAD_PROFILES, BargeInSensitivity
from pipeline.inbound import InboundAudio
from providers.local import shared
from providers.vad.local import call_classifier
from providers.vad.silero import VadEngine

PROFILE = VAD_PROFILES[BargeInSensitivity.MEDIUM]
FRAME_BYTES = 320  # 20 ms of slin at 8 kHz


async def run(engine: VadEngine, line: bytes, calls: int, seconds: int) -> tuple[float, float]:
    """Loop CPU and worker CPU, each as % of one core per call."""
    pool = await shared.start(1)
    inbounds = []
    for _ in range(calls):
        classifier = call_classifier(engine, 8000, PROFILE)
        inbounds.append(InboundAudio(SLIN_8K, PROFILE, 8000, classifier=classifier))
    frames = seconds * 1000 // FRAME_MS
    worker_before = pool.stats().cpu_seconds
    started = time.process_time()
    t0 = time.monotonic()
    for n in range(frames):
        offset = n * FRAME_BYTES % (len(line) - FRAME_BYTES)
        for inbound in inbounds:
            inbound.process(line[offset : offset + FRAME_BYTES])
        await asyncio.sleep(max(0.0, t0 + (n + 1) * FRAME_MS / 1000 - time.monotonic()))
    loop_s = time.process_time() - started
    await asyncio.gather(*(i.close() for i in inbounds))
    worker_s = pool.stats().cpu_seconds - worker_before
    return 100 * loop_s / seconds / calls, 100 * worker_s / seconds / calls


async def main_async(calls: int, seconds: int) -> None:
    cases = [c for c in build(DEFAULT_CACHE) if c.kind == "turn" and c.noisy]
    line = b"".join(load_pcm(DEFAULT_CACHE, c) for c in cases[:8])
    print(f"{calls} calls for {seconds} s, % of one core per call:")
    for engine in (VadEngine.WEBRTC, VadEngine.SILERO):
        results = [await run(engine, line, calls, seconds) for _ in range(3)]
        loop = statistics.median(r[0] for r in results)
        worker = statistics.median(r[1] for r in results)
        print(f"  {engine:7} loop {loop:5.2f} %   worker {worker:5.2f} %  (median of 3)")
    await shared.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main_async(args.calls, args.seconds))


if __name__ == "__main__":
    main()
