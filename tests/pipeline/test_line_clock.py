"""`LineClock`: a quiet line's gaps are heard as silence, a stalled loop's are not."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Final

import pytest
from prometheus_client import REGISTRY

from media.formats import ULAW_8K
from pipeline.line_clock import GAP_S, LineClock
from tests.ari.harness import eventually

SPEECH: Final = b"\x10" * ULAW_8K.frame_bytes
SILENCE: Final = b"\xff" * ULAW_8K.frame_bytes  # µ-law's digital silence
# Longer than GAP_S: a stall that would read as a quiet line if it were believed.
STALL_S: Final = 0.3


class Heard:
    """What the clock handed on, in order."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []

    async def hear(self, frame: bytes) -> None:
        self.frames.append(frame)


@pytest.fixture
async def line() -> AsyncIterator[tuple[LineClock, Heard]]:
    heard = Heard()
    clock = LineClock(ULAW_8K, heard.hear)
    task = asyncio.create_task(clock.run())
    yield clock, heard
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_quiet_line_is_heard_as_silence_at_real_time(
    line: tuple[LineClock, Heard],
) -> None:
    clock, heard = line
    counted = REGISTRY.get_sample_value("vocals_quiet_line_seconds_total") or 0.0
    await clock.frame(SPEECH)
    stopped = time.monotonic()
    await eventually(lambda: clock.filled_ms >= 400, timeout_s=10)
    elapsed_ms = (time.monotonic() - stopped) * 1000
    assert clock.filled_ms <= elapsed_ms  # never more silence than time went by
    now_counted = REGISTRY.get_sample_value("vocals_quiet_line_seconds_total") or 0.0
    # On /metrics, for the operator (a float sum: the run's earlier calls cost it precision).
    assert now_counted - counted == pytest.approx(clock.filled_ms / 1000)
    assert clock.filled_ms >= 400
    assert heard.frames[0] == SPEECH and set(heard.frames[1:]) == {SILENCE}
    await clock.frame(SPEECH)  # the caller speaks again: heard as it comes
    assert heard.frames[-1] == SPEECH


async def test_frames_held_up_by_a_stalled_loop_are_not_taken_for_silence(
    line: tuple[LineClock, Heard],
) -> None:
    clock, heard = line
    await clock.frame(SPEECH)
    time.sleep(STALL_S)  # noqa: ASYNC251 (the loop stalls; the caller's frames wait unread)
    for _ in range(3):
        await asyncio.sleep(0)  # the clock wakes up late, before the frames are read
    for _ in range(int(STALL_S / 0.02)):
        await clock.frame(SPEECH)  # then they arrive together
    await asyncio.sleep(GAP_S / 2)
    assert clock.filled_ms == 0
    assert set(heard.frames) == {SPEECH}
