"""The process's one local pool, shared by every call's local providers.

`vocals serve` starts it warm at start-up with its configured size (`start`) and stops it on
shutdown (`stop`); a provider used without that (a bench, a test, the CLI) gets one of the
default size on first use.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from providers.local.pool import LocalPool, PoolStats

_pool: LocalPool | None = None
_starting: asyncio.Task[LocalPool] | None = None


def default_size() -> int:
    """One worker per core: each decodes or synthesizes on one core at a time."""
    return os.cpu_count() or 1


async def start(size: int | None = None, cache_dir: Path | None = None) -> LocalPool:
    """The running pool, started now with `size` workers (default: one per core) if needed,
    its handlers keeping what they derive from their models in `cache_dir` (see `Handler`)."""
    global _starting
    loop = asyncio.get_running_loop()
    if _pool is not None and _pool.loop is loop:
        return _pool
    if _starting is None or _starting.get_loop() is not loop:
        _starting = loop.create_task(
            _start(size or default_size(), cache_dir), name="local-pool-start"
        )
    return await asyncio.shield(_starting)


async def _start(size: int, cache_dir: Path | None) -> LocalPool:
    global _pool, _starting
    pool = LocalPool(size, cache_dir=cache_dir)
    try:
        await pool.start()
    finally:
        _starting = None
    _pool = pool
    return pool


def stats() -> PoolStats | None:
    """The pool's load (queue depth, busy workers, CPU), or None when no pool runs."""
    return _pool.stats() if _pool is not None else None


async def stop() -> None:
    """Stop the pool's workers; the next use starts a new pool."""
    global _pool
    pool, _pool = _pool, None
    if pool is not None:
        await pool.stop()
