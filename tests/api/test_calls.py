"""Calls: origination into the Redis queue, listing with filters, detail, hangup."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
from redis.asyncio import Redis

from api.app import create_app
from api.context import ApiContext
from store.call_records import CallRecordWriter
from store.live_calls import LiveCallStore
from store.models import CallRecord
from store.outbound_queue import DUE_KEY, OutboundQueue
from store.repositories.calls import CallRepository
from tests.api.conftest import MakeTenant, TenantHandle, client_for, create_agent
from tests.api.test_sip_trunks import REGISTRATION


async def test_originate_queues_the_call(
    client: httpx.AsyncClient, tenant: TenantHandle, redis: Redis
) -> None:
    agent = await create_agent(client, tenant.admin)
    response = await client.post(
        "/api/v1/calls",
        json={
            "agent_id": agent["id"],
            "to": "+15557654321",
            "from": "+15551230000",
            "variables": {"customer_name": "Ada"},
        },
        headers=tenant.key,
    )
    assert response.status_code == 202, response.text
    call_id = response.json()["id"]
    assert response.json()["status"] == "queued"
    job = await OutboundQueue(redis).job(uuid.UUID(call_id))
    assert job is not None
    assert job["to_number"] == "+15557654321"
    assert job["from_number"] == "+15551230000"
    assert job["variables"] == {"customer_name": "Ada"}
    assert job["tenant_id"] == str(tenant.id)
    assert job["not_before"] == 0.0
    detail = await client.get(f"/api/v1/calls/{call_id}", headers=tenant.viewer)
    assert detail.status_code == 200
    assert detail.json()["status"] == "queued"
    assert detail.json()["direction"] == "outbound"
    assert detail.json()["variables"] == {"customer_name": "Ada"}


async def test_scheduled_call_is_due_at_its_time(
    client: httpx.AsyncClient, tenant: TenantHandle, redis: Redis
) -> None:
    agent = await create_agent(client, tenant.admin)
    at = datetime.now(UTC) + timedelta(hours=2)
    response = await client.post(
        "/api/v1/calls",
        json={"agent_id": agent["id"], "to": "+15557654322", "schedule_at": at.isoformat()},
        headers=tenant.admin,
    )
    assert response.status_code == 202
    score = await redis.zscore(DUE_KEY, response.json()["id"])
    assert score is not None
    assert abs(score - at.timestamp()) < 1


async def test_originate_validation_names_the_field(
    client: httpx.AsyncClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    foreign_agent = await create_agent(client, other_tenant.admin)
    agent = await create_agent(client, tenant.admin)
    cases = [
        ({"agent_id": str(uuid.uuid4()), "to": "+15550000000"}, 422, "agent_id"),
        ({"agent_id": foreign_agent["id"], "to": "+15550000000"}, 422, "agent_id"),
        ({"agent_id": agent["id"], "to": "call me"}, 400, "to"),
        ({"agent_id": agent["id"], "to": "+1555", "trunk_id": str(uuid.uuid4())}, 422, "trunk_id"),
        (
            {"agent_id": agent["id"], "to": "+1555", "variables": {"bad name": "x"}},
            400,
            "variables",
        ),
        ({"to": "+15550000000"}, 400, "agent_id"),
    ]
    for body, status, field in cases:
        response = await client.post("/api/v1/calls", json=body, headers=tenant.admin)
        assert response.status_code == status, (body, response.text)
        fields = [e["field"] for e in response.json()["errors"]]
        assert any(f.startswith(field) for f in fields), (body, fields)


async def test_post_calls_rpm_limit(client: httpx.AsyncClient, make_tenant: MakeTenant) -> None:
    limited = await make_tenant(rpm=2)
    agent = await create_agent(client, limited.admin)
    statuses = []
    for _ in range(3):
        response = await client.post(
            "/api/v1/calls",
            json={"agent_id": agent["id"], "to": "+15550000001"},
            headers=limited.key,
        )
        statuses.append(response.status_code)
    assert statuses == [202, 202, 429]
    assert "Retry-After" in response.headers


async def _insert_call(pool: asyncpg.Pool, tenant_id: uuid.UUID, **values: object) -> uuid.UUID:
    call_id = uuid.uuid4()
    record = CallRecord(id=call_id, tenant_id=tenant_id, direction="inbound", status="completed")
    for key, value in values.items():
        setattr(record, key, value)
    await CallRepository(pool).upsert(record)
    return call_id


async def test_list_filters_and_detail(
    client: httpx.AsyncClient, make_tenant: MakeTenant, pg_pool: asyncpg.Pool
) -> None:
    owner = await make_tenant()
    agent = await create_agent(client, owner.admin)
    agent_id = uuid.UUID(str(agent["id"]))
    refund = await _insert_call(
        pg_pool,
        owner.id,
        agent_id=agent_id,
        outcome="agent_ended",
        duration_ms=42_000,
        transcript=[{"role": "caller", "text": "I want a REFUND please", "at_ms": 100}],
        turns=[{"index": 1, "stt_final_ms": 180, "llm_first_token_ms": 320, "total_ms": 700}],
        events=[{"kind": "barge_in", "at_ms": 900}],
        provider_usage={"tts:piper": {"characters": 120}},
        recording_path="/recordings/x.ogg",
    )
    await _insert_call(pg_pool, owner.id, status="failed", direction="outbound")
    search = await client.get("/api/v1/calls?q=refund", headers=owner.viewer)
    assert [c["id"] for c in search.json()["items"]] == [str(refund)]
    by_status = await client.get("/api/v1/calls?status=failed", headers=owner.viewer)
    assert by_status.json()["total"] == 1
    by_agent = await client.get(f"/api/v1/calls?agent_id={agent_id}", headers=owner.viewer)
    assert by_agent.json()["total"] == 1
    by_direction = await client.get("/api/v1/calls?direction=outbound", headers=owner.viewer)
    assert by_direction.json()["total"] == 1
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    future = await client.get(f"/api/v1/calls?since={tomorrow}T00:00:00Z", headers=owner.viewer)
    assert future.json()["total"] == 0
    window = await client.get(
        f"/api/v1/calls?until={tomorrow}T00:00:00Z&sort=duration_ms&limit=1", headers=owner.viewer
    )
    assert window.json()["total"] == 2
    assert len(window.json()["items"]) == 1
    bad_sort = await client.get("/api/v1/calls?sort=transcript", headers=owner.viewer)
    assert bad_sort.status_code == 400
    assert bad_sort.json()["errors"][0]["field"] == "sort"
    bad_date = await client.get("/api/v1/calls?since=yesterday", headers=owner.viewer)
    assert bad_date.status_code == 400
    detail = (await client.get(f"/api/v1/calls/{refund}", headers=owner.viewer)).json()
    assert detail["transcript"][0]["text"] == "I want a REFUND please"
    assert detail["turns"][0]["llm_first_token_ms"] == 320
    assert detail["events"][0]["kind"] == "barge_in"
    assert detail["provider_usage"] == {"tts:piper": {"characters": 120}}
    assert detail["recording_url"] == f"/api/v1/calls/{refund}/recording"


async def test_hangup_cancels_queued_and_ends_live_calls(
    api_context: ApiContext, tenant: TenantHandle, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    hung_up: list[tuple[uuid.UUID, uuid.UUID]] = []

    async def hangup_call(tenant_id: uuid.UUID, call_id: uuid.UUID) -> bool:
        hung_up.append((tenant_id, call_id))
        return True

    fields = {name: getattr(api_context, name) for name in api_context.__dataclass_fields__}
    app = create_app(ApiContext(**{**fields, "hangup_call": hangup_call}))
    async with client_for(app) as client:
        agent = await create_agent(client, tenant.admin)
        queued = await client.post(
            "/api/v1/calls",
            json={"agent_id": agent["id"], "to": "+15550000002"},
            headers=tenant.admin,
        )
        call_id = queued.json()["id"]
        cancelled = await client.post(f"/api/v1/calls/{call_id}/hangup", headers=tenant.admin)
        assert cancelled.status_code == 202
        assert cancelled.json()["result"] == "cancelled"
        assert await OutboundQueue(redis).job(uuid.UUID(call_id)) is None
        record = (await client.get(f"/api/v1/calls/{call_id}", headers=tenant.admin)).json()
        assert record["status"] == "cancelled"
        again = await client.post(f"/api/v1/calls/{call_id}/hangup", headers=tenant.admin)
        assert again.status_code == 409
        live = await _insert_call(pg_pool, tenant.id, status="in_progress")
        ended = await client.post(f"/api/v1/calls/{live}/hangup", headers=tenant.admin)
        assert ended.status_code == 202
        assert ended.json()["result"] == "hangup_requested"
        viewer = await client.post(f"/api/v1/calls/{live}/hangup", headers=tenant.viewer)
        assert viewer.status_code == 403
    assert hung_up == [(tenant.id, live)]


async def test_other_tenants_calls_are_404(
    client: httpx.AsyncClient,
    tenant: TenantHandle,
    other_tenant: TenantHandle,
    pg_pool: asyncpg.Pool,
) -> None:
    call_id = await _insert_call(pg_pool, tenant.id, status="in_progress")
    assert (
        await client.get(f"/api/v1/calls/{call_id}", headers=other_tenant.owner)
    ).status_code == 404
    hangup = await client.post(f"/api/v1/calls/{call_id}/hangup", headers=other_tenant.owner)
    assert hangup.status_code == 404
    listed = await client.get("/api/v1/calls?limit=200", headers=other_tenant.owner)
    assert str(call_id) not in [c["id"] for c in listed.json()["items"]]


async def test_hangup_without_a_live_call_hook_is_409(
    client: httpx.AsyncClient, tenant: TenantHandle, pg_pool: asyncpg.Pool
) -> None:
    call_id = await _insert_call(
        pg_pool, tenant.id, status="in_progress", started_at=datetime.now(UTC)
    )
    response = await client.post(f"/api/v1/calls/{call_id}/hangup", headers=tenant.admin)
    assert response.status_code == 409


async def test_live_calls_of_the_tenant_only(
    client: httpx.AsyncClient, tenant: TenantHandle, other_tenant: TenantHandle, redis: Redis
) -> None:
    live = LiveCallStore(redis)
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    await live.start(tenant.id, mine, {"direction": "inbound", "from": "+15550009999"})
    await live.start(other_tenant.id, theirs, {"direction": "outbound"})
    try:
        response = await client.get("/api/v1/calls/live", headers=tenant.viewer)
        assert response.status_code == 200
        items = response.json()["items"]
        assert [i["id"] for i in items] == [str(mine)]
        assert items[0]["state"]["from"] == "+15550009999"
    finally:
        await live.end(tenant.id, mine)
        await live.end(other_tenant.id, theirs)
    assert (await client.get("/api/v1/calls/live", headers=tenant.viewer)).json()["items"] == []


async def test_two_trunks_and_no_trunk_id_is_refused_at_once(
    client: httpx.AsyncClient, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    agent = await create_agent(client, tenant.admin)
    call = {"agent_id": agent["id"], "to": "+15557654321"}
    trunk_ids = []
    for name in ("carrier-a", "carrier-b"):
        one_trunk = await client.post("/api/v1/calls", json=call, headers=tenant.admin)
        assert one_trunk.status_code == 202, one_trunk.text  # no trunk or one: no choice
        trunk = await client.post(
            "/api/v1/sip-trunks", json={**REGISTRATION, "name": name}, headers=tenant.admin
        )
        assert trunk.status_code == 201, trunk.text
        trunk_ids.append(trunk.json()["id"])
    refused = await client.post("/api/v1/calls", json=call, headers=tenant.admin)
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    assert error == {
        "field": "trunk_id",
        "reason": "this tenant has 2 SIP trunks: set trunk_id to choose one",
    }
    chosen = await client.post(
        "/api/v1/calls", json={**call, "trunk_id": trunk_ids[1]}, headers=tenant.admin
    )
    assert chosen.status_code == 202, chosen.text


async def test_dead_letters_of_the_tenant_for_its_admins(
    client: httpx.AsyncClient,
    tenant: TenantHandle,
    other_tenant: TenantHandle,
    pg_pool: asyncpg.Pool,
    redis: Redis,
) -> None:
    writer = CallRecordWriter(pg_pool, redis)
    refused = CallRecord(
        id=uuid.uuid4(),
        tenant_id=tenant.id,
        agent_id=uuid.uuid4(),  # no such agent: the foreign key refuses the record
        direction="inbound",
        to_number="+15550004444",
        status="completed",
    )
    assert await writer.save(refused) is False

    response = await client.get("/api/v1/calls/dead-letters", headers=tenant.admin)
    assert response.status_code == 200, response.text
    (item,) = [i for i in response.json()["items"] if i["id"] == str(refused.id)]
    assert item["to_number"] == "+15550004444" and "missing row" in item["reason"]
    viewer = await client.get("/api/v1/calls/dead-letters", headers=tenant.viewer)
    assert viewer.status_code == 403
    theirs = await client.get("/api/v1/calls/dead-letters", headers=other_tenant.owner)
    assert str(refused.id) not in [i["id"] for i in theirs.json()["items"]]
