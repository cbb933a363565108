"""SIGTERM with live Twilio calls: like Asterisk calls, they are drained, then ended by the
server (hung up through Twilio's REST API) with their records written; a Twilio call arriving
while the server drains is turned away busy, so Twilio can try elsewhere."""

from __future__ import annotations

import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from redis.asyncio import Redis

from store.db import create_pool
from store.secrets import SecretBox
from tests.fakes.twilio import FakeTwilio
from tests.fakes.twilio.server import FakeCall
from tests.faults.harness import WAIT_S, FaultRig, until
from vocals.loadtest.agent import ensure_agent, ensure_twilio_number
from vocals.loadtest.config import LoadTestConfig

LIVE_CALLS = 3
DRAIN_S = 3.0
CALLER = "+15550109999"


@pytest.fixture
async def rig(database_url: str, redis_url: str, tmp_path: Path) -> AsyncIterator[FaultRig]:
    rig = FaultRig(database_url, redis_url, tmp_path)
    yield rig
    await rig.close()


@pytest.fixture
async def twilio(rig: FaultRig) -> AsyncIterator[FakeTwilio]:
    """Twilio, carrying the test's number (the load-test tenant's account)."""
    pool = await create_pool(rig.env["VOCALS_DATABASE_URL"], max_size=1)
    redis = Redis.from_url(rig.env["VOCALS_REDIS_URL"])
    try:
        tenant_id, _ = await ensure_agent(pool, redis, LoadTestConfig(did=rig.did))
        box = SecretBox(rig.env["VOCALS_SECRET_KEY"])
        account = await ensure_twilio_number(pool, redis, box, tenant_id, rig.did)
    finally:
        await redis.aclose()
        await pool.close()
    fake = FakeTwilio(account.account_sid, account.auth_token)
    await fake.start()
    rig.use(twilio_api_url=fake.api_url)
    yield fake
    await fake.stop()


async def test_sigterm_drains_ends_and_records_live_twilio_calls(
    rig: FaultRig, twilio: FakeTwilio
) -> None:
    rig.use(shutdown_drain_s=str(DRAIN_S))
    server = await rig.start()
    voice_url = f"{rig.env['VOCALS_PUBLIC_URL']}/twilio/voice"
    calls = [await twilio.inbound_call(voice_url, from_=CALLER, to=rig.did)
             for _ in range(LIVE_CALLS)]  # fmt: skip
    for call in calls:
        await until("the stream to start", lambda c=call: streaming(c))

    started = time.monotonic()
    server.signal(signal.SIGTERM)
    await until("the server to drain", server.draining)
    late = await twilio.inbound_call(voice_url, from_=CALLER, to=rig.did)
    await until("the late call to be turned away", lambda: ended(late))
    # Draining: the live calls go on until the drain time is up.
    assert not any(call.done.is_set() for call in calls)
    assert await server.exit_code() == 0, server.log()
    stopped_s = time.monotonic() - started

    assert '<Reject reason="busy"/>' in late.twiml and late.stream is None
    # Each live call was ended at Twilio by the server, not cut by a closing socket.
    assert all(call.hung_up_by_api and call.status == "completed" for call in calls)
    assert DRAIN_S <= stopped_s < DRAIN_S + WAIT_S / 3, stopped_s
    records = await rig.record_ids()
    assert len(records) == LIVE_CALLS + 1, "records lost"
    assert await ended_as(rig) == [
        *[("completed", "stopped", None)] * LIVE_CALLS,
        ("failed", None, "shutting down"),
    ], server.log()[-3000:]
    assert await rig.live_entries(records) == 0


async def streaming(call: FakeCall) -> bool:
    return call.stream is not None and call.stream_ready.is_set()


async def ended(call: FakeCall) -> bool:
    return call.done.is_set()


async def ended_as(rig: FaultRig) -> list[tuple[str, str | None, str | None]]:
    """Status, outcome and error of the test number's records, in the order they began."""
    conn = await asyncpg.connect(rig.database_url)
    try:
        rows = await conn.fetch(
            "SELECT status, outcome, error_reason FROM calls WHERE to_number = $1"
            " ORDER BY started_at",
            rig.did,
        )
    finally:
        await conn.close()
    return [(row["status"], row["outcome"], row["error_reason"]) for row in rows]
