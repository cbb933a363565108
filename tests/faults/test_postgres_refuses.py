"""Calls that end while PostgreSQL answers 57P03 ("the database system is starting up", as a
recovering primary or a warming standby does): their records wait in the Redis outbox and
land once PostgreSQL takes connections again. 0 lost."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from redis.asyncio import Redis

from store.call_records import OUTBOX_KEY
from tests.faults.harness import FaultRig, until, via_port
from tests.store.tcp_proxy import TcpProxy

LIVE_CALLS = 8


@pytest.fixture
async def postgres_proxy(database_url: str) -> AsyncIterator[TcpProxy]:
    target = urlsplit(database_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await proxy.start()
    yield proxy
    await proxy.stop()


@pytest.fixture
async def rig(
    database_url: str, redis_url: str, tmp_path: Path, postgres_proxy: TcpProxy
) -> AsyncIterator[FaultRig]:
    rig = FaultRig(database_url, redis_url, tmp_path)
    rig.use(database_url=via_port(database_url, postgres_proxy.port))
    yield rig
    await rig.close()


async def test_calls_ending_while_postgres_answers_57p03_are_all_recorded(
    rig: FaultRig, postgres_proxy: TcpProxy, redis: Redis
) -> None:
    server = await rig.start()
    calls = await rig.place_live_calls(LIVE_CALLS)
    waiting_before = await redis.llen(OUTBOX_KEY)

    postgres_proxy.refuse_as_postgres("57P03", "the database system is starting up")
    await asyncio.gather(*(call.hangup() for call in calls))

    async def all_in_outbox() -> bool:
        return await redis.llen(OUTBOX_KEY) >= waiting_before + LIVE_CALLS

    await until("every record to wait in the outbox", all_in_outbox)
    assert postgres_proxy.refused > 0
    assert await rig.record_ids() == []

    postgres_proxy.pass_through()

    async def all_recorded() -> bool:
        return len(await rig.record_ids()) == LIVE_CALLS

    await until("the outbox to drain into PostgreSQL", all_recorded)
    assert await redis.llen(OUTBOX_KEY) == 0
    assert rig.sim is not None and rig.sim.live_calls() == 0
    assert await rig.live_entries(await rig.record_ids()) == 0
    _, health = await server.health()
    assert health["extra"]["outbox_pending"] == 0 and "dead_letters" in health["extra"]
    assert "vocals_call_records_dead_letters " in await server.metrics()

    server.signal(signal.SIGTERM)
    assert await server.exit_code() == 0, server.log()
    assert len(await rig.record_ids()) == LIVE_CALLS
