from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from store.db import create_pool
from store.migrate import available_migrations, migrate
from store.repositories.config import AgentRepository
from tests.store.conftest import ship_migrations_before


async def _schema(conn: asyncpg.Connection) -> list[tuple[str, str, str]]:
    rows = await conn.fetch(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'public' ORDER BY 1, 2"
    )
    return [(r[0], r[1], r[2]) for r in rows]


async def test_applies_from_empty_and_again_without_change(empty_database: str) -> None:
    conn = await asyncpg.connect(empty_database)
    try:
        applied = await migrate(conn)
        assert [m.version for m in applied] == [m.version for m in available_migrations()]
        schema = await _schema(conn)
        assert ("calls", "turns", "jsonb") in schema
        assert await migrate(conn) == []
        assert await _schema(conn) == schema
    finally:
        await conn.close()


async def test_concurrent_migrations_apply_each_migration_once(empty_database: str) -> None:
    conns = [await asyncpg.connect(empty_database) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(c) for c in conns))
        assert sum(len(r) for r in results) == len(available_migrations())
        versions = await conns[0].fetch("SELECT version FROM schema_migrations ORDER BY 1")
        assert [v[0] for v in versions] == [m.version for m in available_migrations()]
    finally:
        for conn in conns:
            await conn.close()


async def test_an_edited_applied_migration_is_refused(empty_database: str) -> None:
    from store.migrate import MigrationError

    conn = await asyncpg.connect(empty_database)
    try:
        await migrate(conn)
        await conn.execute("UPDATE schema_migrations SET checksum = 'x' WHERE version = 1")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrate(conn)
    finally:
        await conn.close()


async def test_agent_media_transport_migration_keeps_existing_agents(
    empty_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ship_migrations_before(monkeypatch, 5)
    conn = await asyncpg.connect(empty_database)
    try:
        await migrate(conn)
        tenant_id, agent_id = uuid.uuid4(), uuid.uuid4()
        await conn.execute("INSERT INTO tenants (id, name) VALUES ($1, 'old')", tenant_id)
        await conn.execute(
            "INSERT INTO agents (id, tenant_id, name) VALUES ($1, $2, 'before')",
            agent_id,
            tenant_id,
        )
        monkeypatch.undo()
        # 5 and whatever was shipped after it.
        assert [m.version for m in await migrate(conn)][:1] == [5]
    finally:
        await conn.close()
    pool = await create_pool(empty_database, max_size=2)
    try:
        agents = AgentRepository(pool)
        old = await agents.get(tenant_id, agent_id)
        assert old is not None and old.name == "before" and old.media_transport is None
        new = await agents.create(tenant_id, {"name": "after", "media_transport": "rtp"})
        assert new.media_transport == "rtp"
        with pytest.raises(asyncpg.CheckViolationError):
            await agents.update(tenant_id, agent_id, {"media_transport": "webrtc"})
    finally:
        await pool.close()
