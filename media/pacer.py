"""Outbound framing and real-time pacing.

`OutboundQueue` turns arbitrary-length wire audio into 20 ms frames and tracks marks;
`FrameTicker` calls `on_tick` on every registered target once per 20 ms on a monotonic clock
with absolute deadlines. One ticker can drive every leg of a process (one wake-up per 20 ms in
total, not one per call).
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Protocol

from media.codec import silence
from media.formats import FRAME_MS, AudioFormat

log = logging.getLogger(__name__)

# The queue compacts its buffer once this many bytes have been read from its front: rare
# enough to amortise the memmove, small enough to bound memory.
_COMPACT_BYTES = 16 * 1024


class OutboundQueue:
    """Wire audio waiting to be played, framed at 20 ms, with marks.

    A short final frame is padded with the codec's silence only when `flush()` or `mark()`
    asks for it; otherwise it waits for more audio.
    """

    __slots__ = (
        "_buf",
        "_fmt",
        "_frame_bytes",
        "_marks",
        "_off",
        "_popped",
        "_pushed",
        "high_water_ms",
        "low_water_ms",
    )

    def __init__(self, fmt: AudioFormat, *, high_water_ms: int = 1000, low_water_ms: int = 500):
        if not 0 < low_water_ms <= high_water_ms:
            raise ValueError("need 0 < low_water_ms <= high_water_ms")
        self._fmt = fmt
        self._frame_bytes = fmt.frame_bytes
        self._buf = bytearray()
        self._off = 0
        self._pushed = 0  # bytes ever queued (including padding), minus cleared ones
        self._popped = 0  # bytes ever handed out as frames
        self._marks: deque[tuple[int, str]] = deque()
        self.high_water_ms = high_water_ms
        self.low_water_ms = low_water_ms

    @property
    def format(self) -> AudioFormat:
        return self._fmt

    @property
    def queued_bytes(self) -> int:
        return len(self._buf) - self._off

    @property
    def queued_ms(self) -> int:
        return self.queued_bytes * FRAME_MS // self._frame_bytes

    @property
    def has_marks(self) -> bool:
        return bool(self._marks)

    def push(self, data: bytes) -> None:
        """Queue wire audio of any length."""
        self._buf += data
        self._pushed += len(data)

    def flush(self) -> None:
        """Pad a trailing partial frame with silence so it plays."""
        partial = self.queued_bytes % self._frame_bytes
        if partial:
            pad = self._frame_bytes - partial
            self._buf += silence(self._fmt, pad)
            self._pushed += pad

    def mark(self, name: str) -> None:
        """Remember that `name` is reached once everything queued so far has been played."""
        self.flush()
        self._marks.append((self._pushed, name))

    def clear(self) -> list[str]:
        """Drop all queued audio; return the names of the marks that were waiting (in order)."""
        names = [name for _, name in self._marks]
        self._marks.clear()
        self._buf.clear()
        self._off = 0
        self._pushed = self._popped
        return names

    def pop_frame(self) -> bytes | None:
        """The next full 20 ms frame, or None if less than a frame is queued."""
        end = self._off + self._frame_bytes
        if end > len(self._buf):
            return None
        frame = bytes(self._buf[self._off : end])
        self._popped += self._frame_bytes
        if end >= _COMPACT_BYTES:
            del self._buf[:end]
            self._off = 0
        else:
            self._off = end
        return frame

    def reached_marks(self) -> list[str]:
        """Marks whose audio has all been popped; call before popping the next frame."""
        names: list[str] = []
        while self._marks and self._marks[0][0] <= self._popped:
            names.append(self._marks.popleft()[1])
        return names


class TickTarget(Protocol):
    """Something the ticker calls once per frame period."""

    def on_tick(self, now: float) -> None: ...


Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class FrameTicker:
    """Calls `on_tick(now)` on each target every `period_s`, on absolute deadlines.

    Deadline k is `anchor + k * period_s`, so wake-up jitter never accumulates. A late wake-up
    ticks at once and keeps the schedule (the next tick may follow immediately); a stall longer
    than `max_lag_s` re-anchors the schedule at the present instead of bursting to catch up.
    The run task starts with the first target and ends when the last one leaves.
    """

    def __init__(
        self,
        *,
        period_s: float = FRAME_MS / 1000,
        max_lag_s: float = 0.1,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.period_s = period_s
        self.max_lag_s = max_lag_s
        self._clock = clock
        self._sleep = sleep
        self._targets: dict[TickTarget, None] = {}
        self._task: asyncio.Task[None] | None = None
        self.ticks = 0
        self.late_ticks = 0  # woke more than half a period after the deadline
        self.reanchors = 0
        self.max_lag_s_seen = 0.0

    def add(self, target: TickTarget) -> None:
        self._targets[target] = None
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run())

    def discard(self, target: TickTarget) -> None:
        self._targets.pop(target, None)

    @property
    def target_count(self) -> int:
        return len(self._targets)

    async def run(self) -> None:
        """Tick until no targets are left."""
        period = self.period_s
        anchor = self._clock()
        k = 0
        while self._targets:
            k += 1
            deadline = anchor + k * period
            now = self._clock()
            if now < deadline:
                await self._sleep(deadline - now)
                now = self._clock()
            lag = now - deadline
            if lag > self.max_lag_s:
                anchor, k = now, 0
                self.reanchors += 1
            elif lag > period / 2:
                self.late_ticks += 1
            self.max_lag_s_seen = max(self.max_lag_s_seen, lag)
            self.ticks += 1
            for target in list(self._targets):
                try:
                    target.on_tick(now)
                except Exception:
                    log.exception("tick target %r failed; removing it", target)
                    self._targets.pop(target, None)

    def stats(self) -> dict[str, float | int]:
        return {
            "targets": len(self._targets),
            "ticks": self.ticks,
            "late_ticks": self.late_ticks,
            "reanchors": self.reanchors,
            "max_lag_ms": round(self.max_lag_s_seen * 1000, 3),
        }


_SHARED_TICKERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, FrameTicker] = (
    weakref.WeakKeyDictionary()
)


def shared_ticker() -> FrameTicker:
    """The running event loop's shared ticker: one wake-up per 20 ms for all its legs."""
    loop = asyncio.get_running_loop()
    ticker = _SHARED_TICKERS.get(loop)
    if ticker is None:
        ticker = _SHARED_TICKERS[loop] = FrameTicker()
    return ticker
