"""Outbound calls of a serving process through a trunk created over the API, dialled on the
fake Asterisk: the record names the trunk."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from provisioning.models import Trunk
from provisioning.naming import object_names
from tests.api.conftest import OFFLINE_AGENT
from tests.fakes.asterisk import Callee, FakeAsterisk
from tests.telephony.serving import Serving, serve_settings, serving
from tests.telephony.test_ami import TRUNK

CALL_DONE_S = 15.0
POLL_S = 0.05


@pytest.fixture
async def asterisk() -> AsyncIterator[FakeAsterisk]:
    fake = FakeAsterisk()
    await fake.start()
    yield fake
    await fake.stop()


async def create_trunk(proc: Serving, asterisk: FakeAsterisk, **changes: Any) -> str:
    """A trunk over the API, whose endpoint the fake Asterisk then knows (as after a reload)."""
    created = await proc.client.post(
        "/api/v1/sip-trunks", json={**TRUNK, **changes}, headers=proc.headers
    )
    assert created.status_code == 201, created.text
    trunk_id: str = created.json()["id"]
    trunk = Trunk(id=trunk_id, tenant_id="", name=TRUNK["name"], kind="registration", host="h")
    asterisk.endpoints[object_names(trunk).endpoint] = "online"
    return trunk_id


async def finished_call(proc: Serving, call_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + CALL_DONE_S
    while True:
        detail: dict[str, Any] = (
            await proc.client.get(f"/api/v1/calls/{call_id}", headers=proc.headers)
        ).json()
        if detail["ended_at"] is not None:
            return detail
        if time.monotonic() > deadline:
            raise TimeoutError(f"call never ended: {detail}")
        await asyncio.sleep(POLL_S)


async def test_outbound_record_names_its_trunk(
    asterisk: FakeAsterisk, database_url: str, redis_url: str, tmp_path: Path
) -> None:
    settings = serve_settings(
        database_url, redis_url, tmp_path, ari_url=asterisk.ari_url, ari_password="vocals"
    )
    asterisk.callees["+15557654321"] = Callee(outcome="busy")
    async with serving(settings) as proc:
        trunk_id = await create_trunk(proc, asterisk)
        agent = await proc.client.post("/api/v1/agents", json=OFFLINE_AGENT, headers=proc.headers)
        assert agent.status_code == 201, agent.text
        queued = await proc.client.post(
            "/api/v1/calls",
            json={"agent_id": agent.json()["id"], "to": "+15557654321"},
            headers=proc.headers,
        )
        assert queued.status_code == 202, queued.text
        call = await finished_call(proc, queued.json()["id"])
    assert call["status"] == "busy"
    assert call["trunk_id"] == trunk_id
