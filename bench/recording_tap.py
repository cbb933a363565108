"""Cost of recording a call on the event loop: µs per 20 ms frame pair (one caller frame in,
one agent frame out), including the once-a-second decode and interleave, best and median of
several runs. File writes run on the writer thread and are not counted.

    uv run --frozen --no-sync python -m bench.recording_tap
"""

from __future__ import annotations

import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from media.formats import SLIN_8K, ULAW_8K, AudioFormat
from media.g711 import ulaw_encode
from media.recorder import StereoRecorder

SECONDS = 60  # of simulated call per run
RUNS = 7
FRAME_S = 0.02


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _frame(fmt: AudioFormat) -> bytes:
    t = np.arange(fmt.samples_per_frame) / fmt.sample_rate
    pcm = (3000 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()
    return ulaw_encode(pcm) if fmt is ULAW_8K else pcm


def _run(fmt: AudioFormat, directory: Path, executor: ThreadPoolExecutor) -> float:
    """Event-loop µs per frame pair over one simulated call."""
    clock = _Clock()
    recorder = StereoRecorder(fmt, directory / "call.wav", executor, clock=clock)
    frame = _frame(fmt)
    pairs = int(SECONDS / FRAME_S)
    loop_s = 0.0
    for _ in range(pairs):
        clock.now += FRAME_S
        start = time.perf_counter()
        recorder.inbound(frame)
        recorder.outbound(frame)
        loop_s += time.perf_counter() - start
    recorder.close().result()
    return loop_s / pairs * 1e6


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(max_workers=1) as executor:
        for fmt in (ULAW_8K, SLIN_8K):
            loop = [_run(fmt, Path(tmp), executor) for _ in range(RUNS)]
            print(
                f"{fmt.codec.value} {fmt.sample_rate} Hz: loop cost per 20 ms frame pair "
                f"best {min(loop):.1f} µs, median {statistics.median(loop):.1f} µs "
                f"({statistics.median(loop) / 200:.2f}% of one core per call)"
            )


if __name__ == "__main__":
    main()
