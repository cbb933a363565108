"""Two real `vocals serve` processes on one PostgreSQL and Redis share one campaign: one
holds its lease and claims the leads, both dispatchers dial them from the shared queue. Every
lead ends final, each recorded attempt is exactly one origination at the fake Asterisk, both
processes dialled, and the campaign's caps held across the two (from the fake's own log)."""

from __future__ import annotations

import collections
import time
from pathlib import Path
from typing import Final

import asyncpg

from tests.campaigns.harness import ARRIVAL_JITTER_S, peak_concurrency, tightest_second
from tests.campaigns.processes import (
    Caps,
    admin_headers,
    load_generated_trunks,
    outcome,
    serve,
    start_campaign,
    wait_completed,
)
from tests.fakes.asterisk import Callee, FakeAsterisk

LEADS: Final = 100
# Calls of 3 s at 10 at once: the rate binds while the first leads go out, the concurrency
# after (about 3.5 calls/s).
CPS: Final = 5
CONCURRENCY: Final = 10
# Room on the trunk beyond the campaign's cap: the campaign's own cap is what is measured.
TRUNK_CALLS: Final = 20
HUMAN_CALL_S: Final = 3.0
# Busy after ringing a second (100 s at the fake's 0.01 scale), as a callee who declines: a
# busy at once ends the channel before a loaded process's subscription to it arrives, and that
# call's outcome is unknown (failed, "channel gone before its outcome was seen").
BUSY_RING_S: Final = 100.0
FINISH_S: Final = 120.0


async def test_two_processes_share_a_campaign_within_its_caps_dialling_each_attempt_once(
    asterisk: FakeAsterisk,
    database_url: str,
    redis_url: str,
    pg_pool: asyncpg.Pool,
    tmp_path: Path,
) -> None:
    load_generated_trunks(asterisk, tmp_path)
    numbers = [f"+1555{4000000 + i:07d}" for i in range(LEADS)]
    for i, number in enumerate(numbers):
        busy = i % 5 == 4
        asterisk.callees[number] = (
            Callee(outcome="busy", ring_s=BUSY_RING_S)
            if busy
            else Callee(hangup_after_s=HUMAN_CALL_S)
        )
    headers = await admin_headers(pg_pool, "shared")
    procs = [serve(n, database_url, redis_url, tmp_path, asterisk) for n in ("one", "two")]
    try:
        for proc in procs:
            await proc.start(asterisk)
        campaign_id = await start_campaign(
            procs[0],
            headers,
            numbers,
            Caps(cps=CPS, concurrency=CONCURRENCY, trunk_calls=TRUNK_CALLS),
            {"busy": {"retries": 1, "after_s": 0}},
        )
        await wait_completed(pg_pool, campaign_id, time.monotonic() + FINISH_S, *procs)
    finally:
        for proc in procs:
            await proc.stop()

    result = await outcome(pg_pool, campaign_id, asterisk.originations)
    assert len(result.leads) == LEADS
    for lead in result.leads:
        busy = numbers.index(lead["number"]) % 5 == 4
        assert lead["state"] == ("exhausted" if busy else "reached"), dict(lead)
        assert result.dials[lead["number"]] == lead["recorded"] == (2 if busy else 1), dict(lead)
    # Every origination is one recorded attempt's call, and each attempt was dialled once.
    assert sorted(result.channels) == sorted(result.attempt_calls)
    assert not result.dialled_twice()
    by_process = collections.Counter(o.app for o in asterisk.originations)
    assert set(by_process) == {p.app for p in procs}, by_process
    assert peak_concurrency(asterisk.originations) <= CONCURRENCY
    assert tightest_second(asterisk.originations, CPS) >= 1.0 - ARRIVAL_JITTER_S
    print(
        f"\n{len(asterisk.originations)} dials, by process {dict(by_process)}; peak concurrency "
        f"{peak_concurrency(asterisk.originations)} (cap {CONCURRENCY}); tightest {CPS + 1} "
        f"dials in {tightest_second(asterisk.originations, CPS):.3f} s (cap {CPS}/s)"
    )
