"""Leads whose callees refuse at once or are mailboxes, as a real Asterisk 22.10.1 showed them
(tests/live_asterisk): a busy or declined callee is gone before the originate's answer, and
a mailbox the agent leaves its message in ends the call completed. Each lead must still end
with its own disposition: busy, rejected, voicemail_left."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest

from providers.loadtest import ENABLE_VARIABLE
from tests.campaigns.harness import create_agent, stored_status
from tests.fakes.asterisk import Callee, FakeAsterisk
from tests.fakes.asterisk.caller import tone
from tests.pipeline.memory_leg import silence_pcm, speech_pcm
from tests.telephony.serving import serve_settings, serving
from tests.telephony.test_outbound import create_trunk, reload_reads

BUSY = "+15554100001"
DECLINED = "+15554100002"
MAILBOX = "+15554100003"
DONE_S = 60.0
ALWAYS = {"days": [1, 2, 3, 4, 5, 6, 7], "start": "00:00", "end": "23:59"}


async def test_refusing_callees_and_a_mailbox_end_with_their_own_dispositions(
    database_url: str, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENABLE_VARIABLE, "1")
    asterisk = FakeAsterisk(time_scale=0.01)
    await asterisk.start()
    asterisk.callees[BUSY] = Callee(outcome="busy", ring_s=0)
    asterisk.callees[DECLINED] = Callee(outcome="rejected", ring_s=0)
    asterisk.callees[MAILBOX] = Callee(
        amd_status="MACHINE",
        amd_cause="MAXWORDS-3-2",
        greeting=speech_pcm(1500) + tone(1000, 0.4) + silence_pcm(3000),
    )
    settings = serve_settings(
        database_url, redis_url, tmp_path, ari_url=asterisk.ari_url, ari_password="vocals"
    )
    reload_reads(asterisk, settings)
    try:
        async with serving(settings) as proc:
            agent_id = await create_agent(
                proc, voicemail_policy="leave_message", voicemail_message="Please call us back."
            )
            campaign = await proc.client.post(
                "/api/v1/campaigns",
                json={
                    "name": "refusals",
                    "agent_id": agent_id,
                    "trunk_id": await create_trunk(proc),
                    "calling_window": ALWAYS,
                    "retry_rules": {"busy": {"retries": 0, "after_s": 0}},
                },
                headers=proc.headers,
            )
            assert campaign.status_code == 201, campaign.text
            campaign_id = campaign.json()["id"]
            added = await proc.client.post(
                f"/api/v1/campaigns/{campaign_id}/leads",
                json={"leads": [{"number": n} for n in (BUSY, DECLINED, MAILBOX)]},
                headers=proc.headers,
            )
            assert added.status_code == 201, added.text
            await proc.client.post(f"/api/v1/campaigns/{campaign_id}/start", headers=proc.headers)
            deadline = time.monotonic() + DONE_S
            while await stored_status(proc, campaign_id) != "completed":
                assert time.monotonic() < deadline, "the campaign never completed"
                await asyncio.sleep(0.1)
            leads = {
                r["number"]: (r["state"], r["last_disposition"])
                for r in await proc.runtime.pool.fetch(
                    "SELECT number, state, last_disposition FROM campaign_leads "
                    "WHERE campaign_id = $1",
                    uuid.UUID(campaign_id),
                )
            }
    finally:
        await asterisk.stop()

    assert leads == {
        BUSY: ("exhausted", "busy"),
        DECLINED: ("exhausted", "rejected"),
        MAILBOX: ("reached", "voicemail_left"),
    }
