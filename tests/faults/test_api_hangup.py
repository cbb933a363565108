"""POST /api/v1/calls/{id}/hangup on a live inbound call of a real `vocals serve`: the call
GET /calls/live lists has no database row until it ends (seen on a real Asterisk 22.10.1,
where the API answered 404 for it), and the record says Vocals stopped it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from store.db import create_pool
from store.repositories.config import ApiKeyRepository, InboundRouteRepository
from store.secrets import generate_api_key
from tests.faults.harness import WAIT_S, FaultRig, until


@pytest.fixture
async def rig(database_url: str, redis_url: str, tmp_path: Path) -> AsyncIterator[FaultRig]:
    rig = FaultRig(database_url, redis_url, tmp_path)
    yield rig
    await rig.close()


async def api_key(rig: FaultRig) -> str:
    """An admin API key of the tenant whose agent answers the test's number."""
    pool = await create_pool(rig.database_url, max_size=1)
    try:
        route = await InboundRouteRepository(pool).resolve_did(rig.did)
        assert route is not None
        new = generate_api_key()
        await ApiKeyRepository(pool).create(
            route.tenant_id,
            {"name": "hangup", "prefix": new.prefix, "key_hash": new.key_hash, "role": "admin"},
        )
    finally:
        await pool.close()
    return new.key


async def test_a_live_inbound_call_is_hung_up_over_the_api(rig: FaultRig) -> None:
    server = await rig.start()
    [call] = await rig.place_live_calls(1)
    headers = {"Authorization": f"Bearer {await api_key(rig)}"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=WAIT_S) as api:
        live = (await api.get("/api/v1/calls/live")).json()["items"]
        assert len(live) == 1, live
        ended = await api.post(f"/api/v1/calls/{live[0]['id']}/hangup")
    assert ended.status_code == 202, ended.text
    assert ended.json()["result"] == "hangup_requested"
    await asyncio.wait_for(call.ended.wait(), WAIT_S)

    async def recorded() -> bool:
        return bool(await rig.record_ids())

    await until("the call's record", recorded)
    assert await rig.outcomes() == {"stopped": 1}
