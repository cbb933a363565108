"""Recording retention: files older than their agent's `recording_retention_days` are deleted
and the path is cleared from the call record. Runs once a day in every process (after
recovering what a dead process left in the spool); running it in several at once is harmless
(deleting a deleted file is a no-op)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime
from typing import Final

import asyncpg
import structlog

from ari_app.recording import (
    DEFAULT_RETENTION_DAYS,
    CallRecordings,
    RecordingNotFound,
    RecordingStore,
)
from ari_app.recording_recovery import recover_spooled
from ari_app.tasks import cancel_and_wait, supervised_task
from store.repositories.calls import CallRepository

log = structlog.get_logger(__name__)

PURGE_EVERY_S: Final = 24 * 3600.0
# Calls handled per query, so a first run over years of calls does not load them all at once.
BATCH: Final = 500

_EXPIRED_SQL: Final = """
SELECT c.id, c.tenant_id, c.recording_path
FROM calls c LEFT JOIN agents a ON a.tenant_id = c.tenant_id AND a.id = c.agent_id
WHERE c.recording_path IS NOT NULL
  AND COALESCE(c.ended_at, c.created_at)
      < $1::timestamptz - make_interval(days => COALESCE(a.recording_retention_days, $2::int))
ORDER BY c.created_at
LIMIT $3
"""


async def purge_expired(
    pool: asyncpg.Pool, store: RecordingStore, *, now: datetime | None = None
) -> int:
    """Delete every expired recording; returns how many call records lost their recording."""
    at = now or datetime.now(UTC)
    calls = CallRepository(pool)
    purged = 0
    while True:
        rows = await pool.fetch(_EXPIRED_SQL, at, DEFAULT_RETENTION_DAYS, BATCH)
        for row in rows:
            await _purge_one(calls, store, row["tenant_id"], row["id"], row["recording_path"])
            purged += 1
        if len(rows) < BATCH:
            break
    if purged:
        log.info("expired recordings purged", count=purged)
    return purged


async def _purge_one(
    calls: CallRepository,
    store: RecordingStore,
    tenant_id: uuid.UUID,
    call_id: uuid.UUID,
    location: str,
) -> None:
    # The file first: if clearing the path then fails, the next run finds it again.
    with contextlib.suppress(RecordingNotFound):
        await store.delete(location)
    await calls.update(tenant_id, call_id, {"recording_path": None})


class RecordingPurger:
    """Runs `purge_expired` (and, given `recordings`, `recover_spooled` before it) at start and
    then every `every_s` until stopped."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        store: RecordingStore,
        *,
        recordings: CallRecordings | None = None,
        every_s: float = PURGE_EVERY_S,
    ) -> None:
        self._pool = pool
        self._store = store
        self._recordings = recordings
        self._every_s = every_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = supervised_task("recording-purge", self._run)

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                if self._recordings is not None:
                    await recover_spooled(self._recordings, self._pool)
                await purge_expired(self._pool, self._store)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("recording purge failed; next run will retry", error=str(exc))
            await asyncio.sleep(self._every_s)
