"""A campaign against an Asterisk slow to answer originate requests: the serving process's
dispatcher has several requests out at once (one at a time, a request's round trip would cap
the dial rate far below the campaign's), never more than its bound, and the campaign's
calls-per-second and concurrency caps still hold, measured from the fake's own log.

How fast it dials is a figure for `bench.ari_control originate`, not an assertion here."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Final

import pytest

from ari_app.outbound import IN_FLIGHT
from providers.loadtest import ENABLE_VARIABLE
from tests.campaigns.harness import (
    ARRIVAL_JITTER_S,
    create_agent,
    peak_concurrency,
    stored_status,
    tightest_second,
)
from tests.campaigns.processes import ALWAYS
from tests.fakes.asterisk import Callee, FakeAsterisk
from tests.faults.harness import until
from tests.telephony.serving import serve_settings, serving
from tests.telephony.test_outbound import create_trunk, reload_reads

LEADS: Final = 60
CPS: Final = 20
CONCURRENCY: Final = 30
# Each originate request waits this long at the fake: one at a time, 4 calls/s at most.
ORIGINATE_DELAY_S: Final = 0.25
FINISH_S: Final = 120.0


async def test_a_slow_originate_is_overlapped_within_the_campaigns_caps(
    asterisk: FakeAsterisk,
    database_url: str,
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENABLE_VARIABLE, "1")
    asterisk.originate_delay_s = ORIGINATE_DELAY_S
    asterisk.default_callee = Callee(outcome="busy")
    settings = serve_settings(
        database_url, redis_url, tmp_path, ari_url=asterisk.ari_url, ari_password="vocals"
    )
    reload_reads(asterisk, settings)
    async with serving(settings) as proc:
        trunk_id = await create_trunk(proc, max_cps=CPS, max_calls=CONCURRENCY)
        agent_id = await create_agent(proc)
        created = await proc.client.post(
            "/api/v1/campaigns",
            json={
                "name": "slow asterisk",
                "agent_id": agent_id,
                "trunk_id": trunk_id,
                "max_concurrency": CONCURRENCY,
                "calls_per_second": CPS,
                "calling_window": ALWAYS,
                "retry_rules": {"busy": {"retries": 0, "after_s": 0}},
            },
            headers=proc.headers,
        )
        assert created.status_code == 201, created.text
        campaign_id = created.json()["id"]
        leads = [{"number": f"+1555{6000000 + i:07d}"} for i in range(LEADS)]
        added = await proc.client.post(
            f"/api/v1/campaigns/{campaign_id}/leads", json={"leads": leads}, headers=proc.headers
        )
        assert added.status_code == 201, added.text
        started = await proc.client.post(
            f"/api/v1/campaigns/{campaign_id}/start", headers=proc.headers
        )
        assert started.status_code == 200, started.text

        async def completed() -> bool:
            return await stored_status(proc, campaign_id) == "completed"

        await until("the campaign to complete", completed, FINISH_S)
        attempts = await proc.runtime.pool.fetchval(
            "SELECT count(*) FROM campaign_attempts WHERE campaign_id = $1",
            uuid.UUID(campaign_id),
        )

    assert len(asterisk.originations) == attempts == LEADS
    assert 1 < asterisk.peak_originating <= IN_FLIGHT
    assert tightest_second(asterisk.originations, CPS) >= 1.0 - ARRIVAL_JITTER_S
    assert peak_concurrency(asterisk.originations) <= CONCURRENCY
