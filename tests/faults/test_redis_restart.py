"""Redis restarts under a running server: the supervised outbox drainer and the outbound
dispatcher survive it (the dispatcher says so in one line each way, not a traceback per poll),
/healthz and /metrics show the tasks' states, and a later PostgreSQL outage still ends with
every record written. The machine's shared Redis is never touched: the test runs its own."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from redis.asyncio import Redis

from store.call_records import OUTBOX_KEY
from tests.faults.harness import FaultRig, OwnRedis, ServeProcess, until, via_port
from tests.store.tcp_proxy import TcpProxy

LIVE_CALLS = 4
SUPERVISED = ("outbox", "outbound-dispatcher", "webhook-worker", "recording-purge")


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[OwnRedis]:
    redis = OwnRedis(tmp_path)
    await redis.start()
    yield redis
    await redis.stop()


@pytest.fixture
async def postgres_proxy(database_url: str) -> AsyncIterator[TcpProxy]:
    target = urlsplit(database_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await proxy.start()
    yield proxy
    await proxy.stop()


async def tasks(server: ServeProcess) -> dict[str, Any]:
    _, body = await server.health()
    found: dict[str, Any] = body.get("extra", {}).get("tasks", {})
    return found


async def test_outbox_and_dispatcher_survive_a_redis_restart(
    database_url: str, own_redis: OwnRedis, postgres_proxy: TcpProxy, tmp_path: Path
) -> None:
    rig = FaultRig(database_url, own_redis.url, tmp_path)
    rig.use(database_url=via_port(database_url, postgres_proxy.port), log_level="info")
    redis = Redis.from_url(own_redis.url)
    try:
        server = await rig.start()
        running = await tasks(server)
        assert all(running[name]["state"] == "running" for name in SUPERVISED), running

        await own_redis.stop()

        async def outbox_failed() -> bool:
            restarts: int = (await tasks(server)).get("outbox", {}).get("restarts", 0)
            return restarts >= 1

        await until("the outbox drainer to meet the outage", outbox_failed)
        down = await tasks(server)
        assert "ConnectionError" in down["outbox"]["last_error"], down
        await own_redis.start()

        async def recovered() -> bool:
            status, _ = await server.health()
            state = (await tasks(server)).get("outbox", {}).get("state")
            return status == 200 and state == "running"

        await until("the server to see Redis again", recovered)

        async def dispatcher_back() -> bool:
            return "outbound queue reachable again" in server.log()

        await until("the dispatcher to see Redis again", dispatcher_back)
        log = server.log()
        assert log.count("outbound queue unreachable") == 1, log
        assert "outbound dispatch failed" not in log
        assert 'vocals_background_task_restarts_total{task="outbox"}' in await server.metrics()

        # A later PostgreSQL outage: the records of calls ending in it still land.
        calls = await rig.place_live_calls(LIVE_CALLS)
        postgres_proxy.refuse_as_postgres("57P03", "the database system is starting up")
        await asyncio.gather(*(call.hangup() for call in calls))

        async def all_in_outbox() -> bool:
            return await redis.llen(OUTBOX_KEY) == LIVE_CALLS

        await until("every record to wait in the outbox", all_in_outbox)
        postgres_proxy.pass_through()

        async def all_recorded() -> bool:
            return len(await rig.record_ids()) == LIVE_CALLS

        await until("the outbox to drain into PostgreSQL", all_recorded)
        assert await redis.llen(OUTBOX_KEY) == 0

        server.signal(signal.SIGTERM)
        assert await server.exit_code() == 0, server.log()
    finally:
        await redis.aclose()
        await rig.close()
