"""A database of a test's own, for tests that act on every row (migrations, key rotation)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from store import migrate as migrate_module
from store.db import create_pool
from store.migrate import available_migrations, migrate
from tests.conftest import _with_database
from vocals.services import Services


@pytest.fixture
async def empty_database(services: Services) -> AsyncIterator[str]:
    """A fresh database with no schema, dropped afterwards."""
    name = f"vocals_own_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(_with_database(services.database_url, "postgres"))
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(services.database_url, name)
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def own_pool(empty_database: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a migrated database no other test writes to."""
    conn = await asyncpg.connect(empty_database)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    pool = await create_pool(empty_database, max_size=2)
    yield pool
    await pool.close()


def ship_migrations_before(monkeypatch: pytest.MonkeyPatch, version: int) -> None:
    """Let `migrate` see only the migrations older than `version`, as an older release
    shipped them (`monkeypatch.undo()` shows them all again)."""
    shipped = available_migrations()
    monkeypatch.setattr(
        migrate_module, "available_migrations", lambda: [m for m in shipped if m.version < version]
    )
