"""Inbound calls while PostgreSQL is cut (a TCP proxy in front of it, stopped): a number that
took calls before is answered from the Redis config cache and its record lands once
PostgreSQL is back; a number nobody can resolve is refused as congested and counted, and
nothing reaches the dead-letter list."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import msgspec
import pytest
from redis.asyncio import Redis

from store.call_records import DEAD_LETTER_KEY, OUTBOX_KEY
from store.config_cache import agent_cache_name, did_cache_name
from store.models import CallRecord
from tests.faults.serve_on_simulator import CALL_UP_S, Scene, scene, until
from tests.store.tcp_proxy import TcpProxy

# The outbox is retried every 5 s (vocals.runtime): a record lands within a few rounds.
RECORD_LANDS_S: Final = 30.0
# ARI's `congestion` hang-up reason, as the caller's side sees it (Q.850).
CAUSE_CONGESTION: Final = 34
UNROUTED_METRIC: Final = 'vocals_inbound_calls_unrouted_total{reason="lookup_failed"}'


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[TcpProxy]:
    target = urlsplit(database_url)
    forwarder = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await forwarder.start()
    yield forwarder
    await forwarder.stop()


@pytest.fixture
async def outage(
    tmp_path: Path, pg_pool: asyncpg.Pool, database_url: str, redis_url: str, proxy: TcpProxy
) -> AsyncIterator[Scene]:
    parts = urlsplit(database_url)
    host = parts.netloc.rpartition(":")[0] if parts.port else parts.netloc
    proxied = urlunsplit(parts._replace(netloc=f"{host}:{proxy.port}"))
    async with scene(tmp_path, pg_pool, proxied, redis_url, recording=False) as built:
        yield built


async def _records(pool: asyncpg.Pool, scene: Scene) -> int:
    count: int = await pool.fetchval(
        "SELECT count(*) FROM calls WHERE tenant_id = $1", scene.tenant_id
    )
    return count


async def test_a_cached_number_is_answered_and_an_unknown_one_refused_while_postgres_is_down(
    outage: Scene, proxy: TcpProxy, redis: Redis, pg_pool: asyncpg.Pool
) -> None:
    server = await outage.serve("vocals-outage")
    (first,) = await outage.place_calls("vocals-outage", 1)
    await first.hangup()

    async def first_recorded() -> bool:
        return await _records(pg_pool, outage) == 1

    await until(first_recorded, RECORD_LANDS_S, "the first call's record")
    # The 60 s entries have run out; only the fallback copies are left.
    await redis.delete(
        f"vocals:cache:global:{did_cache_name(outage.did)}",
        f"vocals:cache:{outage.tenant_id}:{agent_cache_name(outage.agent_id)}",
    )
    dead_letters = await redis.llen(DEAD_LETTER_KEY)

    await proxy.stop()
    unknown = outage.sim.place_call("+15550000404", app="vocals-outage")
    async with asyncio.timeout(CALL_UP_S):
        await unknown.ended.wait()
    assert unknown.hangup_cause == CAUSE_CONGESTION
    assert await server.metric(UNROUTED_METRIC) == 1
    (second,) = await outage.place_calls("vocals-outage", 1)
    await second.hangup()

    async def in_outbox() -> bool:
        waiting = [
            msgspec.json.decode(r, type=CallRecord) for r in await redis.lrange(OUTBOX_KEY, 0, -1)
        ]
        return any(r.tenant_id == outage.tenant_id for r in waiting)

    await until(in_outbox, RECORD_LANDS_S, "the second call's record in the outbox")
    assert await _records(pg_pool, outage) == 1

    await proxy.start()

    async def second_recorded() -> bool:
        return await _records(pg_pool, outage) == 2

    await until(second_recorded, RECORD_LANDS_S, "the record written while PostgreSQL was down")
    assert await redis.llen(DEAD_LETTER_KEY) == dead_letters
