"""Retention: only recordings older than their agent's `recording_retention_days` go."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from ari_app.recording import LocalRecordingStore
from ari_app.recording_purge import RecordingPurger, purge_expired
from store.repositories.calls import CallRepository
from store.repositories.config import AgentRepository
from store.repositories.tenants import TenantsRepository
from tests.recordings.records import recorded_call


async def _agent(pool: asyncpg.Pool, tenant_id: uuid.UUID, retention_days: int) -> uuid.UUID:
    agent = await AgentRepository(pool).create(
        tenant_id,
        {
            "name": f"a-{uuid.uuid4().hex[:6]}",
            "recording_enabled": True,
            "recording_retention_days": retention_days,
        },
    )
    return agent.id


async def test_purge_removes_expired_recordings_only(tmp_path: Path, pg_pool: asyncpg.Pool) -> None:
    store = LocalRecordingStore(tmp_path)
    tenant = await TenantsRepository(pg_pool).create(f"purge-{uuid.uuid4().hex[:8]}")
    short, long = await _agent(pg_pool, tenant.id, 7), await _agent(pg_pool, tenant.id, 90)
    now = datetime.now(UTC)
    days = timedelta(days=1)
    expired = await recorded_call(pg_pool, tmp_path, tenant.id, short, ended_at=now - 8 * days)
    fresh = await recorded_call(pg_pool, tmp_path, tenant.id, short, ended_at=now - 6 * days)
    kept_longer = await recorded_call(pg_pool, tmp_path, tenant.id, long, ended_at=now - 30 * days)
    # A file already gone (deleted by hand) still has its path cleared.
    vanished = await recorded_call(pg_pool, tmp_path, tenant.id, short, ended_at=now - 9 * days)
    assert vanished.recording_path is not None
    (tmp_path / vanished.recording_path).unlink()

    assert await purge_expired(pg_pool, store, now=now) >= 2
    calls = CallRepository(pg_pool)
    for record, should_remain in (
        (expired, False),
        (vanished, False),
        (fresh, True),
        (kept_longer, True),
    ):
        assert record.recording_path is not None
        stored = await calls.get(tenant.id, record.id)
        assert stored is not None
        assert (stored.recording_path is not None) is should_remain
        assert (tmp_path / record.recording_path).exists() is should_remain
    assert await purge_expired(pg_pool, store, now=now) == 0  # nothing left to do


async def test_purger_runs_at_start(tmp_path: Path, pg_pool: asyncpg.Pool) -> None:
    store = LocalRecordingStore(tmp_path)
    tenant = await TenantsRepository(pg_pool).create(f"purge-{uuid.uuid4().hex[:8]}")
    agent = await _agent(pg_pool, tenant.id, 1)
    old = datetime.now(UTC) - timedelta(days=2)
    record = await recorded_call(pg_pool, tmp_path, tenant.id, agent, ended_at=old)
    purger = RecordingPurger(pg_pool, store)
    purger.start()
    try:
        calls = CallRepository(pg_pool)
        for _ in range(250):
            row = await calls.get(tenant.id, record.id)
            if row is not None and row.recording_path is None:
                break
            await asyncio.sleep(0.02)
        assert row is not None and row.recording_path is None
    finally:
        await purger.stop()
