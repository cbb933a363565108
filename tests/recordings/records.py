"""Call records with a recording file, made directly in the store (no call needed)."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path

import asyncpg

from store.models import CallRecord
from store.repositories.calls import CallRepository


def files_under(root: Path, pattern: str = "*") -> list[Path]:
    """The files (not folders) anywhere under `root`."""
    return [p for p in root.rglob(pattern) if p.is_file()]


def write_file(root: Path, location: str, content: bytes) -> Path:
    path = root / location
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


async def recorded_call(
    pool: asyncpg.Pool,
    root: Path,
    tenant_id: uuid.UUID,
    agent_id: uuid.UUID | None,
    *,
    ended_at: datetime,
    content: bytes = b"fLaC-not-really",
    suffix: str = ".flac",
) -> CallRecord:
    """A completed call whose recording (`content`) is stored under `root`."""
    call_id = uuid.uuid4()
    location = f"{tenant_id}/{call_id}{suffix}"
    write_file(root, location, content)
    return await CallRepository(pool).upsert(
        CallRecord(
            id=call_id,
            tenant_id=tenant_id,
            agent_id=agent_id,
            direction="inbound",
            status="completed",
            started_at=ended_at,
            answered_at=ended_at,
            ended_at=ended_at,
            recording_path=location,
        )
    )
