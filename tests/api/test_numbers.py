"""Phone numbers in their one stored form (E.164 with `+`), whichever form the API is given."""

from __future__ import annotations

import uuid

import httpx
from redis.asyncio import Redis

from store.outbound_queue import OutboundQueue
from tests.api.conftest import OFFLINE_AGENT, MakeTenant, create_agent
from tests.api.test_sip_trunks import REGISTRATION


def _numbers() -> list[str]:
    base = f"1555{uuid.uuid4().int % 10**5:05d}"
    return [f"{base}{i:02d}" for i in range(4)]


async def test_agents_and_trunks_store_numbers_with_their_plus(
    client: httpx.AsyncClient, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    a, b, c, d = _numbers()
    agent = await create_agent(client, tenant.admin, inbound_numbers=[f"00{a}", b, f"+{c}", "1000"])
    assert agent["inbound_numbers"] == sorted([f"+{a}", f"+{b}", f"+{c}", "1000"])

    taken = await client.post(
        "/api/v1/agents",
        json={**OFFLINE_AGENT, "inbound_numbers": [f"+{b}"]},
        headers=tenant.admin,
    )
    assert taken.status_code == 409, taken.text
    twice = await client.post(
        "/api/v1/agents",
        json={**OFFLINE_AGENT, "inbound_numbers": [d, f"+{d}"]},
        headers=tenant.admin,
    )
    assert twice.status_code == 422, twice.text

    trunk = await client.post(
        "/api/v1/sip-trunks",
        json={**REGISTRATION, "inbound_routes": [{"did": f"00{d}", "agent_id": agent["id"]}]},
        headers=tenant.admin,
    )
    assert trunk.status_code == 201, trunk.text
    assert [r["did"] for r in trunk.json()["inbound_routes"]] == [f"+{d}"]


async def test_calls_are_queued_with_e164_numbers(
    client: httpx.AsyncClient, make_tenant: MakeTenant, redis: Redis
) -> None:
    tenant = await make_tenant()
    agent = await create_agent(client, tenant.admin)
    response = await client.post(
        "/api/v1/calls",
        json={"agent_id": agent["id"], "to": "0015557654321", "from": "15551230000"},
        headers=tenant.admin,
    )
    assert response.status_code == 202, response.text
    job = await OutboundQueue(redis).job(uuid.UUID(response.json()["id"]))
    assert job is not None
    assert (job["to_number"], job["from_number"]) == ("+15557654321", "+15551230000")
