"""A campaign's cost so far in its progress: the sum of what each of its calls cost, as the
post-call worker priced them with the tenant's prices, through a real `vocals serve`, the fake
Asterisk and a fake OpenAI-compatible model."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from providers.loadtest import ENABLE_VARIABLE
from tests.campaigns.harness import LOADTEST_AGENT, stored_status
from tests.fakes.asterisk import Callee, FakeAsterisk
from tests.fakes.openai_compatible import FAKE_API_KEY, FakeOpenAI
from tests.pipeline.memory_leg import silence_pcm, speech_pcm
from tests.telephony.serving import Serving, serve_settings, serving
from tests.telephony.test_outbound import create_trunk, reload_reads

PEOPLE = ("+15557000001", "+15557000002", "+15557000003")
BUSY = "+15557000004"
DONE_S = 60.0
# Each person hangs up once the agent has answered them (long after, on a loaded machine).
HANGUP_S = 8.0
ALWAYS = {"days": [1, 2, 3, 4, 5, 6, 7], "start": "00:00", "end": "23:59"}
MODEL = "gpt-fake-mini"
# A dollar a token in and out: every call's cost is visible.
PRICE = {
    "kind": "llm",
    "vendor": "openai",
    "model": MODEL,
    "per_million_input_tokens": 1_000_000,
    "per_million_output_tokens": 1_000_000,
}


@pytest.fixture
async def llm() -> AsyncIterator[FakeOpenAI]:
    fake = FakeOpenAI()
    fake.reply = "Thank you, that is all."
    await fake.start()
    yield fake
    await fake.stop()


async def _progress(proc: Serving, campaign_id: str) -> dict[str, Any]:
    response = await proc.client.get(
        f"/api/v1/campaigns/{campaign_id}/progress", headers=proc.headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_progress_shows_the_cost_of_the_campaigns_calls_so_far(
    llm: FakeOpenAI,
    database_url: str,
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENABLE_VARIABLE, "1")
    asterisk = FakeAsterisk(time_scale=0.01)
    await asterisk.start()
    for number in PEOPLE:
        asterisk.callees[number] = Callee(
            greeting=speech_pcm(1000) + silence_pcm(2000), hangup_after_s=HANGUP_S
        )
    asterisk.callees[BUSY] = Callee(outcome="busy")
    settings = serve_settings(
        database_url,
        redis_url,
        tmp_path,
        ari_url=asterisk.ari_url,
        ari_password="vocals",
        allow_private_urls=True,
    )
    reload_reads(asterisk, settings)
    try:
        async with serving(settings) as proc:
            priced = await proc.client.put(
                "/api/v1/prices", json={"prices": [PRICE]}, headers=proc.headers
            )
            assert priced.status_code == 200, priced.text
            credential = await proc.client.post(
                "/api/v1/providers",
                json={
                    "name": "fake-openai",
                    "kind": "llm",
                    "vendor": "openai",
                    "api_key": FAKE_API_KEY,
                    "model": MODEL,
                    "options": {"base_url": llm.base_url},
                },
                headers=proc.headers,
            )
            assert credential.status_code == 201, credential.text
            agent = await proc.client.post(
                "/api/v1/agents",
                json={
                    **LOADTEST_AGENT,
                    "name": "surveys",
                    "welcome_message": "",
                    "stt": {"vendor": "loadtest", "options": {"stt_delay_ms": 50}},
                    "llm": {"credential_id": credential.json()["id"]},
                },
                headers=proc.headers,
            )
            assert agent.status_code == 201, agent.text
            trunk_id = await create_trunk(proc)
            campaign = await proc.client.post(
                "/api/v1/campaigns",
                json={
                    "name": "survey",
                    "agent_id": agent.json()["id"],
                    "trunk_id": trunk_id,
                    "max_concurrency": 2,
                    "calling_window": ALWAYS,
                    "retry_rules": {},
                },
                headers=proc.headers,
            )
            campaign_id = campaign.json()["id"]
            before = await _progress(proc, campaign_id)
            await proc.client.post(
                f"/api/v1/campaigns/{campaign_id}/leads",
                json={"leads": [{"number": n} for n in (*PEOPLE, BUSY)]},
                headers=proc.headers,
            )
            await proc.client.post(f"/api/v1/campaigns/{campaign_id}/start", headers=proc.headers)
            deadline = time.monotonic() + DONE_S
            while await stored_status(proc, campaign_id) != "completed":
                assert time.monotonic() < deadline, "the campaign never completed"
                await asyncio.sleep(0.1)
            # This tenant's calls only: the database is the whole test run's.
            unpriced = (
                "SELECT count(*) FROM calls WHERE tenant_id = $1 AND cost IS NULL "
                "AND to_number = ANY($2)"
            )
            while await proc.runtime.pool.fetchval(unpriced, proc.tenant_id, [*PEOPLE, BUSY]):
                assert time.monotonic() < deadline, "the calls were never priced"
                await asyncio.sleep(0.1)
            after = await _progress(proc, campaign_id)
            calls = await proc.client.get("/api/v1/calls?limit=50", headers=proc.headers)
    finally:
        await asterisk.stop()

    assert before["cost"] == {
        "total": 0.0,
        "currency": "USD",
        "priced_calls": 0,
        "pending_calls": 0,
        "calls_with_unpriced_usage": 0,
    }
    each = [c["cost_total"] for c in calls.json()["items"] if c["to_number"] in PEOPLE]
    assert len(each) == len(PEOPLE) and all(cost > 0 for cost in each), each
    cost = after["cost"]
    assert cost["total"] == pytest.approx(sum(each))
    assert (cost["priced_calls"], cost["pending_calls"]) == (len(PEOPLE) + 1, 0)
    assert cost["calls_with_unpriced_usage"] == 0
    assert after["dispositions"] == {"human": len(PEOPLE), "busy": 1}
