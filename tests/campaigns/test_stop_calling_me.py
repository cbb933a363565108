"""A callee who asks not to be called again: the agent's model calls the built-in tool, the
number is on the tenant's do-not-call list at once (audited), the lead ends as
`dnc_requested`, and a call queued to it afterwards is refused before it is dialled."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ari_app.do_not_call_gate import ON_THE_LIST
from providers.loadtest import ENABLE_VARIABLE
from tests.campaigns.harness import LOADTEST_AGENT, stored_status
from tests.fakes.asterisk import Callee, FakeAsterisk
from tests.fakes.openai_compatible import FAKE_API_KEY, FakeOpenAI, ScriptedTurn
from tests.pipeline.memory_leg import silence_pcm, speech_pcm
from tests.telephony.serving import serve_settings, serving
from tests.telephony.test_outbound import create_trunk, reload_reads

STOPPER = "+15554000001"
LISTENER = "+15554000002"
DONE_S = 60.0
ALWAYS = {"days": [1, 2, 3, 4, 5, 6, 7], "start": "00:00", "end": "23:59"}


def stop_calling_me(messages: list[dict[str, Any]]) -> ScriptedTurn:
    """What the model does when it hears "please stop calling me": the tool, then goodbye."""
    if messages and messages[-1].get("role") == "tool":
        return ScriptedTurn("Understood, we will not call again. Goodbye. [END_CALL]")
    return ScriptedTurn(tool_calls=[("add_to_do_not_call", "{}")])


@pytest.fixture
async def llm() -> AsyncIterator[FakeOpenAI]:
    fake = FakeOpenAI()
    await fake.start()
    yield fake
    await fake.stop()


async def test_a_callee_who_asks_to_stop_is_on_the_list_at_once(
    llm: FakeOpenAI,
    database_url: str,
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENABLE_VARIABLE, "1")
    llm.answer = stop_calling_me
    asterisk = FakeAsterisk(time_scale=0.01)
    await asterisk.start()
    asterisk.callees[STOPPER] = Callee(greeting=speech_pcm(1200) + silence_pcm(2000))
    asterisk.callees[LISTENER] = Callee(hangup_after_s=0.5)
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
            credential = await proc.client.post(
                "/api/v1/providers",
                json={
                    "name": "fake-openai",
                    "kind": "llm",
                    "vendor": "openai",
                    "api_key": FAKE_API_KEY,
                    "model": "gpt-fake-mini",
                    "options": {"base_url": llm.base_url},
                },
                headers=proc.headers,
            )
            assert credential.status_code == 201, credential.text
            agent = await proc.client.post(
                "/api/v1/agents",
                json={
                    **LOADTEST_AGENT,
                    "name": "reminders",
                    "welcome_message": "",
                    "stt": {
                        "vendor": "loadtest",
                        "options": {"stt_delay_ms": 50, "text": "Please stop calling me."},
                    },
                    "llm": {"credential_id": credential.json()["id"]},
                },
                headers=proc.headers,
            )
            assert agent.status_code == 201, agent.text
            trunk_id = await create_trunk(proc)
            campaign = await proc.client.post(
                "/api/v1/campaigns",
                json={
                    "name": "stop",
                    "agent_id": agent.json()["id"],
                    "trunk_id": trunk_id,
                    "calling_window": ALWAYS,
                },
                headers=proc.headers,
            )
            campaign_id = campaign.json()["id"]
            await proc.client.post(
                f"/api/v1/campaigns/{campaign_id}/leads",
                json={"leads": [{"number": STOPPER}, {"number": LISTENER}]},
                headers=proc.headers,
            )
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
            # What the calls did: the assertion's message when the leads are not as expected.
            calls = await proc.runtime.pool.fetch(
                "SELECT to_number, status, outcome, error_reason, events FROM calls"
            )
            listed = (await proc.client.get("/api/v1/do-not-call", headers=proc.headers)).json()
            audit = await proc.client.get(
                "/api/v1/audit-logs?entity_type=do_not_call", headers=proc.headers
            )
            # Queued before the number is listed (an API client who had not heard), it is
            # still never dialled: the dispatcher checks the list once more.
            dialled_before = len(asterisk.originations)
            queued = await proc.client.post(
                "/api/v1/calls",
                json={
                    "agent_id": agent.json()["id"],
                    "to": LISTENER,
                    "schedule_at": (datetime.now(UTC) + timedelta(seconds=2)).isoformat(),
                },
                headers=proc.headers,
            )
            assert queued.status_code == 202, queued.text
            await proc.client.post(
                "/api/v1/do-not-call", json={"number": LISTENER}, headers=proc.headers
            )
            call_url = f"/api/v1/calls/{queued.json()['id']}"
            call_id = uuid.UUID(queued.json()["id"])
            ended = "SELECT ended_at FROM calls WHERE id = $1"
            while await proc.runtime.pool.fetchval(ended, call_id) is None:
                assert time.monotonic() < deadline, "the refused call was never recorded"
                await asyncio.sleep(0.1)
            refused = (await proc.client.get(call_url, headers=proc.headers)).json()
    finally:
        await asterisk.stop()

    assert leads == {STOPPER: ("dnc", "dnc_requested"), LISTENER: ("reached", "human")}, (
        [dict(c) for c in calls],
        [r.body["messages"] for r in llm.requests],
    )
    [entry] = listed["items"]
    assert (entry["number"], entry["source"]) == (STOPPER, "caller")
    assert entry["call_id"] is not None
    assert [(e["action"], e["entity_id"]) for e in audit.json()["items"]][-1] == ("add", STOPPER)
    tools = [t["function"]["name"] for t in llm.requests[0].body["tools"]]
    assert "add_to_do_not_call" in tools
    assert (refused["status"], refused["error_reason"]) == ("failed", ON_THE_LIST)
    assert len(asterisk.originations) == dialled_before
