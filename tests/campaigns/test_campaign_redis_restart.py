"""Redis restarts empty (a private redis-server without persistence) in the middle of a
campaign run by a real `vocals serve`: the campaign's lease, queued jobs, pacing and live call
state are gone. No lead is lost (the runner queues again the attempts PostgreSQL holds as
queued and Redis no longer does), the campaign completes once Redis is back, and a lead is
dialled twice for one attempt only inside the README's window: its call was out when Redis
lost its data."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

import asyncpg
import pytest

from tests.campaigns.harness import peak_concurrency
from tests.campaigns.processes import (
    Caps,
    admin_headers,
    load_generated_trunks,
    outcome,
    serve,
    start_campaign,
    wait_completed,
    wait_dialled,
)
from tests.fakes.asterisk import Callee, FakeAsterisk, Origination
from tests.faults.harness import OwnRedis

LEADS: Final = 60
CPS: Final = 5
# Room for more calls than a dispatcher takes at once: some wait in Redis when it is lost.
CONCURRENCY: Final = 20
# Restarted once this many leads were dialled: the rest are dialled after it.
RESTART_AFTER: Final = 20
# Redis stays down this long: every task of the process meets it gone.
DOWN_S: Final = 1.0
# Some calls last long enough to be out across the restart.
SHORT_CALL_S: Final = 1.0
LONG_CALL_S: Final = 4.0
# Lost queued jobs are queued again once orphaned (15 s after their attempt was recorded).
FINISH_S: Final = 150.0


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[OwnRedis]:
    redis = OwnRedis(tmp_path)
    await redis.start()
    yield redis
    await redis.stop()


def out_at(originations: list[Origination], moment: float) -> set[str]:
    """Channels the fake had up at `moment`."""
    return {
        o.channel_id
        for o in originations
        if o.started <= moment and (o.ended is None or o.ended > moment)
    }


async def test_a_redis_restart_loses_no_lead_and_dials_twice_only_calls_that_were_out(
    asterisk: FakeAsterisk,
    database_url: str,
    own_redis: OwnRedis,
    pg_pool: asyncpg.Pool,
    tmp_path: Path,
) -> None:
    load_generated_trunks(asterisk, tmp_path)
    numbers = [f"+1555{5000000 + i:07d}" for i in range(LEADS)]
    for i, number in enumerate(numbers):
        asterisk.callees[number] = (
            Callee(outcome="busy")
            if i % 5 == 4
            else Callee(hangup_after_s=LONG_CALL_S if i % 3 == 0 else SHORT_CALL_S)
        )
    headers = await admin_headers(pg_pool, "redis-restart")
    proc = serve("one", database_url, own_redis.url, tmp_path, asterisk)
    try:
        await proc.start(asterisk)
        campaign_id = await start_campaign(
            proc,
            headers,
            numbers,
            Caps(cps=CPS, concurrency=CONCURRENCY, trunk_calls=CONCURRENCY),
            {"busy": {"retries": 1, "after_s": 0}, "failed": {"retries": 2, "after_s": 0}},
        )
        deadline = time.monotonic() + FINISH_S
        await wait_dialled(asterisk, RESTART_AFTER, deadline, proc)
        await own_redis.stop()
        restarted_at = time.monotonic()
        await asyncio.sleep(DOWN_S)
        await own_redis.start()
        dialled_before = len(asterisk.originations)
        await wait_completed(pg_pool, campaign_id, deadline, proc)
    finally:
        await proc.stop()

    result = await outcome(pg_pool, campaign_id, asterisk.originations)
    assert len(result.leads) == LEADS
    assert {r["state"] for r in result.leads} <= {"reached", "exhausted"}
    assert len(asterisk.originations) > dialled_before  # dialled on after the restart
    # No origination without a recorded attempt; a second one only for a call that was out.
    assert set(result.channels) <= set(result.attempt_calls)
    twice = result.dialled_twice()
    assert {str(c) for c in twice} <= out_at(asterisk.originations, restarted_at)
    for lead in result.leads:
        assert result.dials[lead["number"]] >= lead["recorded"] == lead["attempts"], dict(lead)
    # The campaign's concurrency is counted in PostgreSQL: only a call dialled twice adds one.
    assert peak_concurrency(asterisk.originations) <= CONCURRENCY + len(twice)
    print(
        f"\n{dialled_before} dialled before Redis came back, {len(asterisk.originations)} in "
        f"all for {len(result.attempt_calls)} attempts; {len(twice)} dialled twice (out at the "
        f"restart: {len(out_at(asterisk.originations, restarted_at))})"
    )
