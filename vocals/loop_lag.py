"""Event-loop lag: how late a timer fires on the process's one event loop.

Anything that holds the loop (CPU work on its thread, a model holding the interpreter's lock)
delays every call's audio, the ARI heartbeat, Redis and PostgreSQL replies alike; the lag is
the first sign of overload. One warning is logged per episode over the threshold, not per tick.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Final

import structlog

from ari_app.tasks import cancel_and_wait

log = structlog.get_logger(__name__)

# A stall is seen to within one tick, half an audio frame; ticking costs about 0.4 % of a
# core (measured; 0.1 % at 100 ms, which could miss most of a 100 ms stall).
TICK_S: Final = 0.01
# Lag above this is an episode worth a log line: two and a half frames of audio late.
THRESHOLD_S: Final = 0.05
# The maximum is reported over this window, so a scraper polling more often sees every stall.
WINDOW_S: Final = 10.0


class LoopLagMonitor:
    """Measures timer lateness every `tick_s` while started."""

    def __init__(
        self,
        *,
        tick_s: float = TICK_S,
        threshold_s: float = THRESHOLD_S,
        window_s: float = WINDOW_S,
    ) -> None:
        self.tick_s = tick_s
        self.threshold_s = threshold_s
        self.lag_s = 0.0
        self.episodes = 0
        self._recent: deque[tuple[float, float]] = deque()
        self._window_s = window_s
        self._in_episode = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="loop-lag")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)

    @property
    def max_lag_s(self) -> float:
        """The highest lag over the last `window_s`."""
        self._trim(time.monotonic())
        return max((lag for _, lag in self._recent), default=0.0)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.tick_s
            await asyncio.sleep(self.tick_s)
            self._observe(max(0.0, loop.time() - due))

    def _observe(self, lag_s: float) -> None:
        now = time.monotonic()
        self.lag_s = lag_s
        self._recent.append((now, lag_s))
        self._trim(now)
        if lag_s < self.threshold_s:
            self._in_episode = False
        elif not self._in_episode:
            self._in_episode = True
            self.episodes += 1
            log.warning(
                "event loop lagging: calls' audio and connections are delayed",
                lag_ms=round(lag_s * 1000),
                threshold_ms=round(self.threshold_s * 1000),
            )

    def _trim(self, now: float) -> None:
        while self._recent and self._recent[0][0] < now - self._window_s:
            self._recent.popleft()
