"""A campaign through the tenant's Twilio account: a real `vocals serve` (its app also on a
real socket, where the Twilio fake sends its webhooks and media streams) dials every lead
through the fake's REST API within the campaign's concurrency and calls-per-second caps,
measured from the fake's own log of the calls it placed."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn

from providers.loadtest import ENABLE_VARIABLE
from tests.campaigns.harness import (
    ARRIVAL_JITTER_S,
    LOADTEST_AGENT,
    peak_concurrency,
    stored_status,
    tightest_second,
)
from tests.fakes.asterisk import Origination
from tests.fakes.twilio import Callee, FakeTwilio
from tests.telephony.serving import Serving, serve_settings, serving

LEADS = 12
CONCURRENCY = 3
CPS = 2
DONE_S = 90.0
ALWAYS = {"days": [1, 2, 3, 4, 5, 6, 7], "start": "00:00", "end": "23:59"}


def _number(i: int) -> str:
    return f"+1555{8000000 + i:07d}"


def _callee(i: int) -> Callee:
    return Callee({0: "busy", 1: "machine"}.get(i % 4, "human"), amd_delay_s=0.2)  # type: ignore[arg-type]


@pytest.fixture
async def twilio() -> AsyncIterator[FakeTwilio]:
    fake = FakeTwilio()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def listener() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


async def _on_twilio(proc: Serving, twilio: FakeTwilio, did: str) -> None:
    """The tenant's Twilio account, carrying the agent's number."""
    account = await proc.client.put(
        "/api/v1/twilio/account",
        json={"account_sid": twilio.account_sid, "auth_token": twilio.auth_token},
        headers=proc.headers,
    )
    assert account.is_success, account.text
    number = await proc.client.put(f"/api/v1/twilio/numbers/{did}", headers=proc.headers)
    assert number.is_success, number.text


async def test_a_twilio_campaign_keeps_its_caps(
    twilio: FakeTwilio,
    listener: socket.socket,
    database_url: str,
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENABLE_VARIABLE, "1")
    for i in range(LEADS):
        twilio.callees[_number(i)] = _callee(i)
    public_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    settings = serve_settings(
        database_url, redis_url, tmp_path, public_url=public_url, twilio_api_url=twilio.api_url
    )
    async with serving(settings) as proc:
        config = uvicorn.Config(proc.app, log_level="warning", lifespan="off",
                                ws="websockets-sansio")  # fmt: skip
        server = uvicorn.Server(config)
        serve = asyncio.create_task(server.serve(sockets=[listener]))
        try:
            did = f"+1555{uuid.uuid4().int % 10**7:07d}"
            # A person talks for the agent's whole call, which ends it after a second.
            agent = await proc.client.post(
                "/api/v1/agents",
                json={**LOADTEST_AGENT, "name": "reminders", "inbound_numbers": [did],
                      "max_call_seconds": 1},
                headers=proc.headers,
            )  # fmt: skip
            assert agent.status_code == 201, agent.text
            await _on_twilio(proc, twilio, did)
            created = await proc.client.post(
                "/api/v1/campaigns",
                json={
                    "name": "twilio",
                    "agent_id": agent.json()["id"],
                    "twilio": True,
                    "max_concurrency": CONCURRENCY,
                    "calls_per_second": CPS,
                    "calling_window": ALWAYS,
                    "retry_rules": {},
                },
                headers=proc.headers,
            )
            assert created.status_code == 201, created.text
            campaign_id = created.json()["id"]
            added = await proc.client.post(
                f"/api/v1/campaigns/{campaign_id}/leads",
                json={"leads": [{"number": _number(i)} for i in range(LEADS)]},
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
            server.should_exit = True
            await serve

    expected = {
        "busy": ("exhausted", "busy"),
        "machine": ("exhausted", "voicemail_no_message"),
        "human": ("reached", "human"),
    }
    assert leads == {_number(i): expected[_callee(i).answer] for i in range(LEADS)}
    calls = list(twilio.calls.values())
    assert sorted(c.to for c in calls) == sorted(_number(i) for i in range(LEADS))
    assert all(c.direction == "outbound-api" and c.from_ == did for c in calls)
    placed = [Origination(c.to, c.from_, c.created_at, c.ended_at) for c in calls]
    assert peak_concurrency(placed) <= CONCURRENCY
    assert tightest_second(placed, CPS) >= 1.0 - ARRIVAL_JITTER_S
