"""Real PostgreSQL and Redis for the suite: each run gets its own database and Redis db,
removed afterwards. Found the way `vocals` finds them (env, local port, else embedded)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from redis.asyncio import Redis

from store.db import create_pool
from store.migrate import migrate
from vocals.services import Services, resolve_services
from vocals.settings import load_settings

pytest_plugins = ["tests.hang_guard"]

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = REPO_ROOT.parent / "shared" / "fixtures" / "asterisk-22.10.1"
# Redis db 0 is left to a developer's own use; test runs claim one of the others with a lease.
TEST_REDIS_DBS = range(1, 16)
REDIS_DB_LEASE_S = 3600


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The real Asterisk 22.10.1 captures in ../shared/fixtures."""
    return FIXTURES


@pytest.fixture(scope="session")
async def services() -> AsyncIterator[Services]:
    env = {k: v for k, v in os.environ.items() if k.startswith("VOCALS_")}
    env.setdefault("VOCALS_DATA_DIR", str(REPO_ROOT / ".vocals" / "test"))
    found = await resolve_services(load_settings(env))
    yield found
    found.close()


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
async def database_url(services: Services) -> AsyncIterator[str]:
    """A fresh, migrated database for this test run."""
    name = f"vocals_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_with_database(services.database_url, "postgres"))
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(services.database_url, name)
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    try:
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="session")
async def redis_url(services: Services) -> AsyncIterator[str]:
    """A Redis db claimed for this run (leased in db 0), flushed before and after."""
    base = urlsplit(services.redis_url)
    control = Redis.from_url(urlunsplit(base._replace(path="/0")))
    token = uuid.uuid4().hex
    for db in TEST_REDIS_DBS:
        if await control.set(f"vocals:test-db-lease:{db}", token, nx=True, ex=REDIS_DB_LEASE_S):
            break
    else:
        raise RuntimeError("every Redis test db is leased by another run")
    url = urlunsplit(base._replace(path=f"/{db}"))
    client = Redis.from_url(url)
    await client.flushdb()
    try:
        yield url
    finally:
        await client.flushdb()
        await client.aclose()
        await control.delete(f"vocals:test-db-lease:{db}")
        await control.aclose()


@pytest.fixture(scope="session")
async def pg_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url)
    yield pool
    await pool.close()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def empty_outbound_queue(redis: Redis) -> None:
    """The outbound queue is shared by every process, so also by every test of the run:
    calls other tests queued (through the API, say) must not be dialled by this test's
    dispatcher."""
    stale = [key async for key in redis.scan_iter(match="vocals:outbound:*")]
    if stale:
        await redis.delete(*stale)
