"""Who answered a campaign's call, through a real `vocals serve` and the fake Asterisk: an IVR
menu and a call screener are their own dispositions (retried per their own rules), and a
voicemail message counts as left only when the call shows it heard to its end."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from providers.loadtest import ENABLE_VARIABLE
from tests.campaigns.harness import LOADTEST_AGENT, stored_status
from tests.fakes.asterisk import Callee, FakeAsterisk
from tests.pipeline.memory_leg import silence_pcm, speech_pcm
from tests.telephony.serving import Serving, serve_settings, serving
from tests.telephony.test_outbound import create_trunk, reload_reads

MENU = "+15556000001"
SCREENED = "+15556000002"
MAILBOX = "+15556000003"
MAILBOX_HANGS_UP = "+15556000004"
DONE_S = 90.0
ALWAYS = {"days": [1, 2, 3, 4, 5, 6, 7], "start": "00:00", "end": "23:59"}
MESSAGE = "Hello, this is the clinic calling about your appointment tomorrow."
# The message plays this long; the second mailbox hangs up before it can have ended: its
# greeting and the quiet after it take over three seconds before the message starts.
MESSAGE_S = 5.0
HANGS_UP_AFTER_S = 6.0


@pytest.fixture
async def asterisk() -> AsyncIterator[FakeAsterisk]:
    fake = FakeAsterisk(time_scale=0.01)
    await fake.start()
    yield fake
    await fake.stop()


def _greeting() -> bytes:
    return speech_pcm(1200) + silence_pcm(2000)


async def _agent(proc: Serving, heard: str, **changes: Any) -> str:
    body = {
        **LOADTEST_AGENT,
        "name": f"agent-{uuid.uuid4().hex[:6]}",
        "welcome_message": "",
        "stt": {"vendor": "loadtest", "options": {"stt_delay_ms": 50, "text": heard}},
        **changes,
    }
    created = await proc.client.post("/api/v1/agents", json=body, headers=proc.headers)
    assert created.status_code == 201, created.text
    agent_id: str = created.json()["id"]
    return agent_id


async def _campaign(
    proc: Serving, agent_id: str, trunk_id: str, numbers: list[str], retry_rules: dict[str, Any]
) -> str:
    created = await proc.client.post(
        "/api/v1/campaigns",
        json={
            "name": f"campaign-{uuid.uuid4().hex[:6]}",
            "agent_id": agent_id,
            "trunk_id": trunk_id,
            "max_concurrency": 2,
            "calling_window": ALWAYS,
            "retry_rules": retry_rules,
        },
        headers=proc.headers,
    )
    assert created.status_code == 201, created.text
    campaign_id: str = created.json()["id"]
    added = await proc.client.post(
        f"/api/v1/campaigns/{campaign_id}/leads",
        json={"leads": [{"number": n} for n in numbers]},
        headers=proc.headers,
    )
    assert added.status_code == 201, added.text
    started = await proc.client.post(f"/api/v1/campaigns/{campaign_id}/start", headers=proc.headers)
    assert started.status_code == 200, started.text
    return campaign_id


async def _attempts(proc: Serving, campaign_id: str) -> dict[str, list[tuple[str, str, str]]]:
    """Per number: (disposition, call outcome, lead state) of each attempt in order."""
    rows = await proc.runtime.pool.fetch(
        "SELECT l.number, l.state, a.disposition, c.outcome FROM campaign_attempts a "
        "JOIN campaign_leads l ON l.id = a.lead_id JOIN calls c ON c.id = a.call_id "
        "WHERE a.campaign_id = $1 ORDER BY l.number, a.attempt",
        uuid.UUID(campaign_id),
    )
    found: dict[str, list[tuple[str, str, str]]] = {}
    for r in rows:
        found.setdefault(r["number"], []).append((r["disposition"], r["outcome"], r["state"]))
    return found


async def test_menus_screeners_and_mailboxes_are_told_apart(
    asterisk: FakeAsterisk,
    database_url: str,
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENABLE_VARIABLE, "1")
    asterisk.callees[MENU] = Callee(greeting=_greeting())
    asterisk.callees[SCREENED] = Callee(greeting=_greeting())
    machine = ("MACHINE", "LONGGREETING-2000-2000")
    asterisk.callees[MAILBOX] = Callee(
        greeting=_greeting(), amd_status=machine[0], amd_cause=machine[1]
    )
    asterisk.callees[MAILBOX_HANGS_UP] = Callee(
        greeting=_greeting(),
        amd_status=machine[0],
        amd_cause=machine[1],
        hangup_after_s=HANGS_UP_AFTER_S,
    )
    settings = serve_settings(
        database_url, redis_url, tmp_path, ari_url=asterisk.ari_url, ari_password="vocals"
    )
    reload_reads(asterisk, settings)
    async with serving(settings) as proc:
        trunk_id = await create_trunk(proc)
        menu_agent = await _agent(
            proc, "Thank you for calling Acme. For sales, press 1. For support, press 2."
        )
        # The agent answers the screener (who calls and why) and hangs up; no one picks up.
        screened_agent = await _agent(
            proc,
            "Please say your name and why you are calling.",
            llm={"vendor": "loadtest", "options": {"end_call_after_turns": 1}},
        )
        mailbox_agent = await _agent(
            proc,
            "Hi, you have reached Anna.",
            voicemail_policy="leave_message",
            voicemail_message=MESSAGE,
            tts={"vendor": "loadtest", "options": {"seconds_per_sentence": MESSAGE_S}},
        )
        campaigns = {
            "menu": await _campaign(
                proc, menu_agent, trunk_id, [MENU], {"ivr": {"retries": 1, "after_s": 0}}
            ),
            "screened": await _campaign(
                proc,
                screened_agent,
                trunk_id,
                [SCREENED],
                {"call_screening": {"retries": 0, "after_s": 0}},
            ),
            "mailbox": await _campaign(
                proc, mailbox_agent, trunk_id, [MAILBOX, MAILBOX_HANGS_UP], {}
            ),
        }
        deadline = time.monotonic() + DONE_S
        for campaign_id in campaigns.values():
            while await stored_status(proc, campaign_id) != "completed":
                assert time.monotonic() < deadline, "a campaign never completed"
                await asyncio.sleep(0.1)
        found = {name: await _attempts(proc, c) for name, c in campaigns.items()}
        [menu_call] = await proc.runtime.pool.fetch(
            "SELECT events, transcript FROM calls WHERE to_number = $1 LIMIT 1", MENU
        )
        mailbox = await proc.runtime.pool.fetch(
            "SELECT to_number, transcript FROM calls WHERE to_number = ANY($1::text[])",
            [MAILBOX, MAILBOX_HANGS_UP],
        )
        progress = await proc.client.get(
            f"/api/v1/campaigns/{campaigns['menu']}/progress", headers=proc.headers
        )

    # The menu is not talked to: the call ends at its first words, and is retried per its rule.
    assert found["menu"] == {MENU: [("ivr", "ivr", "exhausted")] * 2}
    assert [e["detail"] for e in menu_call["events"] if e["kind"] == "answered_by"] == [
        {"system": "ivr"}
    ]
    assert [t["role"] for t in menu_call["transcript"]] == ["caller"]
    assert found["screened"] == {SCREENED: [("call_screening", "call_screening", "exhausted")]}
    # Both mailboxes got the agent's message policy; only one heard the message to its end.
    assert found["mailbox"] == {
        MAILBOX: [("voicemail_left", "voicemail", "reached")],
        MAILBOX_HANGS_UP: [("voicemail_no_message", "voicemail", "exhausted")],
    }
    spoken = {r["to_number"]: r["transcript"] for r in mailbox}
    assert [(t["text"], t["interrupted"]) for t in spoken[MAILBOX]] == [(MESSAGE, False)]
    assert all(t["interrupted"] for t in spoken[MAILBOX_HANGS_UP])
    assert progress.json()["dispositions"] == {"ivr": 2}
    assert progress.json()["answer_rate"] == 1.0
