"""Recordings a dead process left in the spool: each is a valid WAV up to about a second
before the crash (see `media.recorder`). When its call has a record, the file is compressed,
stored and linked to it like any finished recording; without a record it stays in the spool
(still playable there) until it is older than the default retention, then it is deleted."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Final

import asyncpg
import structlog

from ari_app.recording import DEFAULT_RETENTION_DAYS, CallRecordings
from store.repositories.calls import CallRepository

log = structlog.get_logger(__name__)

# A live recorder appends every second; a spooled file untouched this long has no recorder
# (processes sharing the directory never take each other's live calls).
ABANDONED_AFTER_S: Final = 300.0
_ORPHAN_MAX_AGE_S: Final = DEFAULT_RETENTION_DAYS * 86400.0


def _abandoned(spool: Path, idle_s: float) -> list[tuple[Path, float]]:
    """Spooled WAVs (path, age in seconds) not written for `idle_s`."""
    now = time.time()
    found = []
    for wav in spool.glob("*/*.wav"):
        try:
            age = now - wav.stat().st_mtime
        except FileNotFoundError:
            continue
        if age >= idle_s:
            found.append((wav, age))
    return found


def _ids(wav: Path) -> tuple[uuid.UUID, uuid.UUID] | None:
    try:
        return uuid.UUID(wav.parent.name), uuid.UUID(wav.stem)
    except ValueError:
        return None


async def recover_spooled(
    recordings: CallRecordings, pool: asyncpg.Pool, *, idle_s: float = ABANDONED_AFTER_S
) -> int:
    """Store and link every abandoned spooled recording whose call has a record; returns how
    many were recovered."""
    calls = CallRepository(pool)
    recovered = 0
    for wav, age in await asyncio.to_thread(_abandoned, recordings.spool_dir, idle_s):
        ids = _ids(wav)
        if ids is None:
            continue
        tenant_id, call_id = ids
        record = await calls.get(tenant_id, call_id)
        if record is None or record.recording_path is not None:
            if age > _ORPHAN_MAX_AGE_S:
                await asyncio.to_thread(wav.unlink, missing_ok=True)
                log.info("deleted an unclaimed spooled recording", path=str(wav))
            continue
        location = await recordings.store_spooled(wav, tenant_id, call_id)
        await calls.update(tenant_id, call_id, {"recording_path": location})
        log.info("recovered a recording left by a dead process", call_id=str(call_id))
        recovered += 1
    return recovered
