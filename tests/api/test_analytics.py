"""Analytics over stored call records, and the audit log's filters."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from store.models import CallRecord
from store.repositories.calls import CallRepository
from tests.api.conftest import MakeTenant, TenantHandle, create_agent


def _turn(stt: int, llm: int, tts: int, total: int, llm_vendor: str) -> dict[str, object]:
    """A turn as ari_app/record_format.py stores it: stage latencies under `latency`."""
    return {
        "index": 1,
        "latency": {
            "stt_final_ms": stt,
            "llm_first_token_ms": llm,
            "tts_first_audio_ms": tts,
            "total_ms": total,
        },
        "stt_vendor": "pocketsphinx",
        "llm_vendor": llm_vendor,
        "tts_vendor": "piper",
    }


async def test_analytics_figures(
    client: httpx.AsyncClient, make_tenant: MakeTenant, pg_pool: asyncpg.Pool
) -> None:
    owner = await make_tenant()
    agent = await create_agent(client, owner.admin)
    agent_id = uuid.UUID(str(agent["id"]))
    calls = CallRepository(pg_pool)
    for index, duration in enumerate((10_000, 20_000, 30_000, 40_000)):
        await calls.upsert(
            CallRecord(
                id=uuid.uuid4(),
                tenant_id=owner.id,
                agent_id=agent_id if index < 3 else None,
                direction="inbound",
                status="completed",
                outcome="caller_hung_up" if index % 2 == 0 else "agent_ended",
                duration_ms=duration,
                turns=[
                    _turn(100 + index, 300, 500, 900, "scripted"),
                    _turn(200, 400, 600, 1_000, "openai"),
                ],
                provider_usage={
                    "tts:piper": {"characters": 100, "requests": 2},
                    "llm:scripted": {"output_tokens": 10},
                },
            )
        )
    await calls.upsert(
        CallRecord(id=uuid.uuid4(), tenant_id=owner.id, direction="outbound", status="failed")
    )
    response = await client.get("/api/v1/analytics", headers=owner.viewer)
    assert response.status_code == 200, response.text
    body = response.json()
    today = datetime.now(UTC).date().isoformat()
    assert body["calls_per_day"] == [{"day": today, "calls": 5, "completed": 4}]
    assert body["duration_ms"]["count"] == 4
    assert body["duration_ms"]["p50"] == 25_000
    outcomes = {o["outcome"]: o["calls"] for o in body["outcomes"]}
    assert outcomes == {"caller_hung_up": 2, "agent_ended": 2}
    assert body["without_outcome"] == [{"status": "failed", "calls": 1}]
    latency = {(entry["stage"], entry["vendor"]): entry["latency_ms"] for entry in body["latency"]}
    assert latency[("llm_first_token", "scripted")]["p50"] == 300
    assert latency[("llm_first_token", "openai")]["p50"] == 400
    assert latency[("turn_total", "all")]["count"] == 8
    assert latency[("stt_final", "pocketsphinx")]["count"] == 8
    usage = {u["provider"]: u for u in body["usage"]}
    assert usage["tts:piper"]["totals"] == {"characters": 400.0, "requests": 8.0}
    assert usage["tts:piper"]["calls"] == 4
    by_agent = (
        await client.get(f"/api/v1/analytics?agent_id={agent_id}", headers=owner.viewer)
    ).json()
    assert by_agent["duration_ms"]["count"] == 3
    past = datetime.now(UTC) - timedelta(days=3)
    empty = await client.get(
        "/api/v1/analytics",
        params={"since": (past - timedelta(days=1)).isoformat(), "until": past.isoformat()},
        headers=owner.viewer,
    )
    assert empty.json()["calls_per_day"] == []
    assert empty.json()["duration_ms"]["p50"] is None


async def test_analytics_rejects_bad_ranges(
    client: httpx.AsyncClient, tenant: TenantHandle
) -> None:
    now = datetime.now(UTC)
    backwards = await client.get(
        "/api/v1/analytics",
        params={"since": now.isoformat(), "until": (now - timedelta(days=1)).isoformat()},
        headers=tenant.viewer,
    )
    assert backwards.status_code == 422
    too_long = await client.get(
        "/api/v1/analytics",
        params={"since": (now - timedelta(days=800)).isoformat()},
        headers=tenant.viewer,
    )
    assert too_long.status_code == 422


async def test_audit_log_filters_and_tenancy(
    client: httpx.AsyncClient, make_tenant: MakeTenant, other_tenant: TenantHandle
) -> None:
    owner = await make_tenant()
    agent = await create_agent(client, owner.admin)
    await client.post("/api/v1/api-keys", json={"name": "k"}, headers=owner.owner)
    everything = await client.get("/api/v1/audit-logs", headers=owner.viewer)
    changes = [e for e in everything.json()["items"] if e["action"] != "sign_in"]
    assert {e["entity_type"] for e in changes} == {"agent", "api_key"}
    # make_tenant signed its three users in: each sign-in is audited with its method.
    sign_ins = [e for e in everything.json()["items"] if e["action"] == "sign_in"]
    assert [e["after"] for e in sign_ins] == [{"method": "password"}] * 3
    keys = await client.get("/api/v1/audit-logs?entity_type=api_key", headers=owner.viewer)
    entry = keys.json()["items"][0]
    assert entry["actor"] == owner.owner_email
    assert entry["after"]["prefix"].startswith("vk_")
    assert {"key", "key_hash"}.isdisjoint(entry["after"])
    by_actor = await client.get(
        "/api/v1/audit-logs",
        params={"actor": owner.owner_email, "entity_type": "api_key"},
        headers=owner.viewer,
    )
    assert by_actor.json()["total"] == 1
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    none = await client.get("/api/v1/audit-logs", params={"since": tomorrow}, headers=owner.viewer)
    assert none.json()["total"] == 0
    foreign = await client.get(
        f"/api/v1/audit-logs?entity_id={agent['id']}", headers=other_tenant.owner
    )
    assert foreign.json()["total"] == 0
