"""A real `vocals serve` killed with SIGKILL in the middle of a campaign, and another started:
no lead is lost, and every origination the fake Asterisk saw is one recorded attempt (the
killed process's live calls end as failed, process lost, and are retried as new attempts)."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Final

import asyncpg

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
from tests.fakes.asterisk import Callee, FakeAsterisk

LEADS: Final = 60
CPS: Final = 5
CONCURRENCY: Final = 5
# Killed once this many leads were dialled: the rest are the next process's to call.
KILL_AFTER: Final = 20
# The campaign lease (10 s) and the process lease (2 s) lapse, then the rest is dialled.
FINISH_S: Final = 90.0


async def test_a_killed_process_loses_no_lead_and_dials_none_twice(
    asterisk: FakeAsterisk,
    database_url: str,
    redis_url: str,
    pg_pool: asyncpg.Pool,
    tmp_path: Path,
) -> None:
    load_generated_trunks(asterisk, tmp_path)
    numbers = [f"+1555{3000000 + i:07d}" for i in range(LEADS)]
    for i, number in enumerate(numbers):
        busy = i % 4 == 3
        asterisk.callees[number] = Callee(outcome="busy") if busy else Callee(hangup_after_s=1.0)
    headers = await admin_headers(pg_pool, "crash")
    first = serve("first", database_url, redis_url, tmp_path, asterisk)
    second = serve("second", database_url, redis_url, tmp_path, asterisk)
    try:
        await first.start(asterisk)
        campaign_id = await start_campaign(
            first,
            headers,
            numbers,
            Caps(cps=CPS, concurrency=CONCURRENCY, trunk_calls=10),
            {"busy": {"retries": 1, "after_s": 0}, "failed": {"retries": 2, "after_s": 0}},
        )
        deadline = time.monotonic() + FINISH_S
        await wait_dialled(asterisk, KILL_AFTER, deadline, first)
        await first.stop(signal.SIGKILL)
        killed_at = len(asterisk.originations)
        await second.start(asterisk)
        await wait_completed(pg_pool, campaign_id, deadline, second)
    finally:
        await first.stop()
        await second.stop()

    result = await outcome(pg_pool, campaign_id, asterisk.originations)
    assert killed_at < len(asterisk.originations)  # the second process dialled the rest
    assert {r["state"] for r in result.leads} <= {"reached", "exhausted"}
    assert len(result.leads) == LEADS
    for lead in result.leads:
        assert result.dials[lead["number"]] == lead["recorded"] == lead["attempts"], dict(lead)
        assert lead["state"] == "reached" or result.dials[lead["number"]] > 1, dict(lead)
    assert not result.dialled_twice()
    lost = await pg_pool.fetchval(
        "SELECT count(*) FROM calls c JOIN campaign_attempts a ON a.call_id = c.id "
        "WHERE a.campaign_id = $1 AND c.error_reason = 'process lost'",
        campaign_id,
    )
    print(f"\n{killed_at} dialled before the kill, {lost} calls lost with the process and retried")
