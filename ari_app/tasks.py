"""Stopping a background task for sure.

On Python 3.11 `asyncio.wait_for` returns the inner result when a cancellation arrives just as
its inner call completes, and the cancellation is lost. redis-py wraps every command's send
in it, so a loop that talks to Redis can shrug off `task.cancel()` and run on while
`await task` waits forever: this hung CI runs at shutdown of the outbound dispatcher.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

# How long one cancellation is given to end the task before it is repeated.
RECANCEL_AFTER_S: Final = 0.1


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel `task` (again, if a cancellation was lost) until it has ended; re-raises what it
    failed with. The caller's own cancellation still reaches the caller."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=RECANCEL_AFTER_S)
    if not task.cancelled():
        task.result()
