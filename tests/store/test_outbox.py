"""Call records survive a PostgreSQL outage in the Redis outbox and land when it is back."""

from __future__ import annotations

import asyncio
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from redis.asyncio import Redis

from store.call_records import CallRecordWriter
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
