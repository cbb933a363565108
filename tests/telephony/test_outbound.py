"""Outbound calls of a serving process through a trunk created over the API, dialled on the
fake Asterisk: the record names the trunk."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from provisioning.render import PJSIP_FILENAME
from tests.api.conftest import OFFLINE_AGENT
from tests.fakes.asterisk import Callee, FakeAsterisk
from tests.telephony.serving import Serving, serve_settings, serving
from tests.telephony.test_ami import TRUNK
from vocals.settings import Settings

CALL_DONE_S = 15.0
POLL_S = 0.05


@pytest.fixture
async def asterisk() -> AsyncIterator[FakeAsterisk]:
    fake = FakeAsterisk()
    await fake.start()
    yield fake
    await fake.stop()


def reload_reads(asterisk: FakeAsterisk, settings: Settings) -> None:
    """Reloading res_pjsip makes the fake read the trunks file Vocals generated."""
    generated = Path(settings.asterisk_config_dir) / PJSIP_FILENAME
    asterisk.reload_hooks["res_pjsip.so"] = lambda fake: fake.load_pjsip(generated.read_text())


async def create_trunk(proc: Serving, **changes: Any) -> str:
    created = await proc.client.post(
        "/api/v1/sip-trunks", json={**TRUNK, **changes}, headers=proc.headers
    )
    assert created.status_code == 201, created.text
    trunk_id: str = created.json()["id"]
    return trunk_id


async def call_out(proc: Serving) -> dict[str, Any]:
    """Queue a call to +15557654321 with a new agent; its record once it has ended."""
    agent = await proc.client.post(
        "/api/v1/agents",
        json={**OFFLINE_AGENT, "name": f"agent-{uuid.uuid4().hex[:6]}"},
        headers=proc.headers,
    )
    assert agent.status_code == 201, agent.text
    queued = await proc.client.post(
        "/api/v1/calls",
        json={"agent_id": agent.json()["id"], "to": "+15557654321"},
        headers=proc.headers,
    )
    assert queued.status_code == 202, queued.text
    return await finished_call(proc, queued.json()["id"])


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
    reload_reads(asterisk, settings)
    asterisk.callees["+15557654321"] = Callee(outcome="busy")
    async with serving(settings) as proc:
        trunk_id = await create_trunk(proc)
        call = await call_out(proc)
    assert call["status"] == "busy"
    assert call["trunk_id"] == trunk_id


async def test_tls_trunks_are_refused_until_asterisk_has_a_tls_transport(
    asterisk: FakeAsterisk, database_url: str, redis_url: str, tmp_path: Path
) -> None:
    plain = serve_settings(
        database_url, redis_url, tmp_path / "a", ari_url=asterisk.ari_url, ari_password="vocals"
    )
    async with serving(plain) as proc:
        refused = await proc.client.post(
            "/api/v1/sip-trunks", json={**TRUNK, "transport": "tls"}, headers=proc.headers
        )
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    assert error["field"] == "transport" and "VOCALS_SIP_TLS" in error["reason"]

    # What the refusal spares: Asterisk takes the trunk, and every call on it is lost.
    tls = msgspec.structs.replace(plain, sip_tls=True, asterisk_config_dir=str(tmp_path / "b"))
    reload_reads(asterisk, tls)
    asterisk.callees["+15557654321"] = Callee(outcome="busy")
    async with serving(tls) as proc:
        await create_trunk(proc, transport="tls")
        lost = await call_out(proc)
        asterisk.transports.add("transport-tls")  # the operator added the transport
        dialled = await call_out(proc)
    assert lost["status"] == "failed"
    assert lost["error_reason"] == "not answered: cause 34"
    assert dialled["status"] == "busy"
