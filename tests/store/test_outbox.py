"""Call records survive a PostgreSQL outage in the Redis outbox and land when it is back."""

from __future__ import annotations

import asyncio
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import msgspec
import pytest
from redis.asyncio import Redis

from store.call_records import DEAD_LETTER_KEY, CallRecordWriter, DeadLetter
from store.db import create_pool
from store.models import CallRecord
from store.repositories.calls import CallRepository
from store.repositories.tenants import TenantsRepository
from tests.store.tcp_proxy import TcpProxy


def _via(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))


async def test_outbox_drains_after_postgres_comes_back(
    database_url: str, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    tenant = await TenantsRepository(pg_pool).create(f"outbox-{uuid.uuid4().hex[:8]}")
    target = urlsplit(database_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await proxy.start()
    pool = await create_pool(_via(database_url, proxy.port), max_size=2)
    writer = CallRecordWriter(pool, redis)
    records = [
        CallRecord(id=uuid.uuid4(), tenant_id=tenant.id, direction="inbound", status="completed")
        for _ in range(3)
    ]
    try:
        assert await writer.save(records[0]) is True

        await proxy.stop()
        assert await writer.save(records[1]) is False
        assert await writer.save(records[2]) is False
        assert await writer.pending() == 2
        assert await writer.drain() == 0
        assert await writer.pending() == 2

        await proxy.start()
        await asyncio.sleep(0)
        assert await writer.drain() == 2
        assert await writer.pending() == 0
    finally:
        pool.terminate()
        await proxy.stop()

    stored = CallRepository(pg_pool)
    for record in records:
        row = await stored.get(tenant.id, record.id)
        assert row is not None and row.status == "completed"


@pytest.mark.parametrize(
    ("sqlstate", "message"),
    [
        ("57P03", "the database system is starting up"),
        ("57P01", "terminating connection due to administrator command"),
        ("53300", "sorry, too many clients already"),
    ],
)
async def test_records_wait_in_the_outbox_while_postgres_refuses_connections(
    database_url: str, pg_pool: asyncpg.Pool, redis: Redis, sqlstate: str, message: str
) -> None:
    tenant = await TenantsRepository(pg_pool).create(f"refused-{uuid.uuid4().hex[:8]}")
    target = urlsplit(database_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await proxy.start()
    pool = await create_pool(_via(database_url, proxy.port), max_size=2)
    writer = CallRecordWriter(pool, redis)
    records = [
        CallRecord(id=uuid.uuid4(), tenant_id=tenant.id, direction="inbound", status="completed")
        for _ in range(2)
    ]
    before = await writer.pending()
    try:
        proxy.refuse_as_postgres(sqlstate, message)
        assert await writer.save(records[0]) is False
        assert await writer.save(records[1]) is False
        assert proxy.refused >= 2
        assert await writer.pending() == before + 2
        assert await writer.drain() == 0
        assert await writer.pending() == before + 2

        proxy.pass_through()
        assert await writer.drain() == before + 2
        assert await writer.pending() == 0
    finally:
        pool.terminate()
        await proxy.stop()
    stored = CallRepository(pg_pool)
    for record in records:
        assert await stored.get(tenant.id, record.id) is not None


async def test_a_record_postgres_refuses_as_invalid_is_a_visible_dead_letter(
    pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    writer = CallRecordWriter(pg_pool, redis)
    orphan = CallRecord(id=uuid.uuid4(), tenant_id=uuid.uuid4(), direction="inbound", status="x")
    pending, dead = await writer.pending(), await writer.dead_letters()

    assert await writer.save(orphan) is False

    assert await writer.pending() == pending
    assert await writer.dead_letters() == dead + 1
    raw = await redis.lindex(DEAD_LETTER_KEY, -1)
    assert isinstance(raw, bytes)
    letter = msgspec.json.decode(raw, type=DeadLetter)
    assert letter.record.id == orphan.id and "missing row" in letter.reason
