"""Background tasks of a process: supervised (restarted with capped backoff when they fail,
their state reported), and stopped for sure.

On Python 3.11 `asyncio.wait_for` returns the inner result when a cancellation arrives just as
its inner call completes, and the cancellation is lost. redis-py wraps every command's send
in it, so a loop that talks to Redis can shrug off `task.cancel()` and run on while
`await task` waits forever: this hung CI runs at shutdown of the outbound dispatcher.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final, Literal

import msgspec
import structlog
from prometheus_client import Counter, Gauge

log = structlog.get_logger(__name__)

# How long one cancellation is given to end the task before it is repeated.
RECANCEL_AFTER_S: Final = 0.1
# A task that ran this long before failing was healthy: its next restart starts the backoff
# from the beginning again.
HEALTHY_RUN_S: Final = 60.0
_MAX_ERROR_CHARS: Final = 300

TASK_RUNNING = Gauge(
    "vocals_background_task_running",
    "1 while a supervised background task runs, 0 while it waits to be restarted.",
    ["task"],
)
TASK_RESTARTS = Counter(
    "vocals_background_task_restarts_total",
    "Restarts of a supervised background task after it failed.",
    ["task"],
)


class Backoff(msgspec.Struct, kw_only=True, frozen=True):
    """Exponential delays with full jitter, so many processes do not retry in lockstep after
    a shared dependency comes back."""

    initial_s: float = 0.2
    max_s: float = 10.0
    factor: float = 2.0

    def delay(self, attempt: int) -> float:
        ceiling = min(self.max_s, self.initial_s * self.factor**attempt)
        return random.uniform(ceiling / 2, ceiling)


# A crashed background task is back within half a minute at most: its dependency's outage
# is the usual cause, and hammering it helps nobody.
SUPERVISOR_BACKOFF: Final = Backoff(initial_s=0.5, max_s=30.0)


class TaskState(msgspec.Struct, kw_only=True):
    """What `/healthz` shows of one supervised task."""

    state: Literal["running", "restarting"] = "running"
    restarts: int = 0
    last_error: str | None = None


# Supervised tasks of this process by name (one process, one event loop: plain dict).
_STATES: dict[str, TaskState] = {}


def task_states() -> dict[str, TaskState]:
    """The supervised tasks running in this process, by name."""
    return dict(_STATES)


async def supervise(
    name: str, work: Callable[[], Awaitable[None]], *, backoff: Backoff = SUPERVISOR_BACKOFF
) -> None:
    """Run `work()` until it returns; when it raises, log it and run it again after a capped,
    growing delay. Its state is in `task_states()` and in /metrics while this runs."""
    state = TaskState()
    _STATES[name] = state
    TASK_RUNNING.labels(task=name).set(1)
    attempt = 0
    try:
        while True:
            started = time.monotonic()
            try:
                await work()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if time.monotonic() - started >= HEALTHY_RUN_S:
                    attempt = 0
                delay = backoff.delay(attempt)
                attempt += 1
                state.state, state.restarts = "restarting", state.restarts + 1
                state.last_error = f"{type(exc).__name__}: {exc}"[:_MAX_ERROR_CHARS]
                TASK_RUNNING.labels(task=name).set(0)
                TASK_RESTARTS.labels(task=name).inc()
                # The traceback once per streak of failures; the repeats in one line each.
                log.error(
                    "background task failed, restarting",
                    task=name,
                    error=state.last_error,
                    restarts=state.restarts,
                    retry_in_s=round(delay, 2),
                    exc_info=attempt == 1,
                )
            await asyncio.sleep(delay)
            state.state = "running"
            TASK_RUNNING.labels(task=name).set(1)
    finally:
        if _STATES.get(name) is state:
            del _STATES[name]
            TASK_RUNNING.remove(name)


def supervised_task(name: str, work: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
    """`supervise(name, work)` in a task of that name; stop it with `cancel_and_wait`."""
    return asyncio.create_task(supervise(name, work), name=name)


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel `task` (again, if a cancellation was lost) until it has ended; re-raises what it
    failed with. The caller's own cancellation still reaches the caller."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=RECANCEL_AFTER_S)
    if not task.cancelled():
        task.result()
