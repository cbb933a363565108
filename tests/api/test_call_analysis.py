"""Post-call analysis settings, tenant prices, and a call's analysis and cost as the API shows
them: the record, the list, the export and the analytics (the post-call worker writes them,
over the same real PostgreSQL)."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from api.webhooks.lifecycle import WebhookEventSink
from ari_app.agent_loader import StoreAgentLoader
from ari_app.post_call import PostCallWorker
from providers import registry
from store.models import CallRecord
from store.repositories.calls import CallRepository
from store.repositories.config import AgentRepository
from store.repositories.post_call import PostCallQueue, TenantPriceRepository
from store.secrets import SecretBox
from tests.api.conftest import TEST_SECRET_KEY, MakeTenant, TenantHandle, create_agent

SCHEMA = {
    "type": "object",
    "properties": {"day": {"type": "string"}, "part": {"type": "string"}},
}
ANALYSIS = {"enabled": True, "success_criteria": "The caller booked.", "schema": SCHEMA}


async def _agent_status(
    client: httpx.AsyncClient, tenant: TenantHandle, analysis: object
) -> httpx.Response:
    return await client.post(
        "/api/v1/agents",
        json={
            "name": f"a-{uuid.uuid4().hex[:8]}",
            "stt": {"vendor": "pocketsphinx"},
            "llm": {"vendor": "scripted"},
            "tts": {"vendor": "piper"},
            "analysis": analysis,
        },
        headers=tenant.admin,
    )


@pytest.mark.parametrize(
    ("analysis", "status", "words"),
    [
        ({"enabled": True, "schema": {"type": "array"}}, 422, 'must be of type \\"object\\"'),
        (
            {"schema": {"type": "object", "properties": {"a": {"type": 7}}}},
            422,
            "valid JSON schema",
        ),
        (
            {"schema": {"type": "object", "properties": {"a": {"$ref": "http://10.0.0.1/s.json"}}}},
            422,
            "Retrieval is disabled",
        ),
        # Never fetched: a meta-schema the server does not know is refused as it is.
        ({"schema": {"type": "object", "$schema": "http://10.0.0.1/meta"}}, 422, "Unknown meta"),
        ({"llm": {"credential_id": str(uuid.UUID(int=7))}}, 422, "analysis.llm.credential_id"),
        ({"enabled": True, "colour": "red"}, 400, "analysis: is not a field"),
        ({"success_criteria": "x" * 4_001}, 400, "success_criteria"),
    ],
)
async def test_bad_analysis_settings_are_refused_with_a_reason_and_nothing_saved(
    client: httpx.AsyncClient,
    make_tenant: MakeTenant,
    analysis: object,
    status: int,
    words: str,
) -> None:
    tenant = await make_tenant()
    response = await _agent_status(client, tenant, analysis)
    assert response.status_code == status, response.text
    assert words in response.text
    listed = await client.get("/api/v1/agents", headers=tenant.viewer)
    assert listed.json()["total"] == 0


async def test_analysis_settings_are_kept_and_changed(
    client: httpx.AsyncClient, tenant: TenantHandle
) -> None:
    agent = await create_agent(client, tenant.admin, analysis=ANALYSIS)
    assert agent["analysis"] == {**ANALYSIS, "llm": None}
    plain = await create_agent(client, tenant.admin)
    assert plain["analysis"]["enabled"] is False
    changed = await client.patch(
        f"/api/v1/agents/{agent['id']}",
        json={"analysis": {"enabled": False}},
        headers=tenant.admin,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["analysis"] == {
        "enabled": False,
        "success_criteria": "",
        "schema": None,
        "llm": None,
    }
    refused = await client.patch(
        f"/api/v1/agents/{agent['id']}",
        json={"analysis": {"schema": {"type": "string"}}},
        headers=tenant.admin,
    )
    assert refused.status_code == 422
    kept = await client.get(f"/api/v1/agents/{agent['id']}", headers=tenant.viewer)
    assert kept.json()["analysis"]["enabled"] is False


async def test_prices_are_the_defaults_until_a_tenant_sets_its_own(
    client: httpx.AsyncClient, make_tenant: MakeTenant, other_tenant: TenantHandle
) -> None:
    tenant = await make_tenant()
    shown = (await client.get("/api/v1/prices", headers=tenant.viewer)).json()
    assert shown["currency"] == "USD" and shown["prices"] == []
    haiku = [p for p in shown["defaults"] if p["model"] == "claude-haiku-4-5"]
    assert haiku[0]["per_million_output_tokens"] == 5.0
    mine = [
        {"kind": "llm", "vendor": "openai", "model": "gpt-6-luna", "per_million_input_tokens": 1.5}
    ]
    assert (
        await client.put("/api/v1/prices", json={"prices": mine}, headers=tenant.viewer)
    ).status_code == 403
    twice = await client.put("/api/v1/prices", json={"prices": mine * 2}, headers=tenant.admin)
    assert twice.status_code == 422 and "prices[1]" in twice.text
    negative = [{**mine[0], "per_million_input_tokens": -1}]
    bad = await client.put("/api/v1/prices", json={"prices": negative}, headers=tenant.admin)
    assert bad.status_code == 400
    saved = await client.put("/api/v1/prices", json={"prices": mine}, headers=tenant.admin)
    assert saved.status_code == 200, saved.text
    assert saved.json()["prices"][0]["per_million_input_tokens"] == 1.5
    assert saved.json()["prices"][0]["per_million_output_tokens"] == 0
    assert (await client.get("/api/v1/prices", headers=other_tenant.viewer)).json()["prices"] == []
    audit = await client.get("/api/v1/audit-logs?entity_type=prices", headers=tenant.viewer)
    assert audit.json()["total"] == 1


async def test_a_calls_analysis_and_cost_are_on_its_record_the_list_the_export_and_analytics(
    client: httpx.AsyncClient,
    make_tenant: MakeTenant,
    other_tenant: TenantHandle,
    pg_pool: asyncpg.Pool,
    redis: Redis,
) -> None:
    tenant = await make_tenant()
    agent = await create_agent(client, tenant.admin, analysis=ANALYSIS)
    agent_id = uuid.UUID(agent["id"])
    call_id = uuid.uuid4()
    await CallRepository(pg_pool).upsert(
        CallRecord(
            id=call_id,
            tenant_id=tenant.id,
            agent_id=agent_id,
            direction="inbound",
            status="completed",
            started_at=datetime.now(UTC),
            transcript=[
                {"role": "agent", "text": "Hello.", "at_ms": 0},
                {"role": "caller", "text": "Book me for tomorrow afternoon.", "at_ms": 900},
            ],
            provider_usage={
                "llm:claude": {
                    "input_tokens": 2_000_000,
                    "output_tokens": 0,
                    "model": "claude-haiku-4-5",
                },
                "tts:piper": {"characters": 50},
            },
        )
    )
    pending = (await client.get(f"/api/v1/calls/{call_id}", headers=tenant.viewer)).json()
    assert pending["analysis"] is None and pending["cost"] is None
    box = SecretBox(TEST_SECRET_KEY)
    worker = PostCallWorker(
        PostCallQueue(pg_pool),
        AgentRepository(pg_pool),
        TenantPriceRepository(pg_pool),
        StoreAgentLoader(pg_pool, redis, box),
        registry.build,
        WebhookEventSink(pg_pool, box, redis),
    )
    while await worker.run_once():
        pass

    detail = (await client.get(f"/api/v1/calls/{call_id}", headers=tenant.viewer)).json()
    assert detail["analysis"]["status"] == "done"
    assert detail["analysis"]["data"] == {"day": "tomorrow", "part": "afternoon"}
    assert detail["analysis"]["unavailable"] == ["success"]
    assert detail["cost"]["total"] == pytest.approx(2.0)
    assert {i["provider"] for i in detail["cost"]["items"]} == {
        "llm:claude",
        "tts:piper",
        "analysis:llm:scripted",
    }
    listed = (await client.get("/api/v1/calls", headers=tenant.viewer)).json()["items"]
    assert [(c["id"], c["cost_total"], c["success"]) for c in listed] == [
        (str(call_id), pytest.approx(2.0), None)
    ]
    assert (
        await client.get(f"/api/v1/calls/{call_id}", headers=other_tenant.viewer)
    ).status_code == 404

    exported = await client.get("/api/v1/calls/export?format=csv", headers=tenant.viewer)
    [row] = list(csv.DictReader(io.StringIO(exported.text)))
    assert float(row["cost_total"]) == pytest.approx(2.0)
    assert row["cost_currency"] == "USD"
    assert row["analysis_status"] == "done"
    assert "booking" in row["analysis_summary"]
    assert json.loads(row["analysis_data"]) == {"day": "tomorrow", "part": "afternoon"}
    as_json: list[dict[str, Any]] = (
        await client.get("/api/v1/calls/export?format=json", headers=tenant.viewer)
    ).json()
    assert as_json[0]["analysis"]["data"] == {"day": "tomorrow", "part": "afternoon"}
    assert as_json[0]["cost"]["total"] == pytest.approx(2.0)

    cost = (await client.get("/api/v1/analytics", headers=tenant.viewer)).json()["cost"]
    assert cost["total"] == pytest.approx(2.0) and cost["calls"] == 1
    assert cost["per_agent"] == [{"agent_id": str(agent_id), "calls": 1, "total": 2.0}]
    vendors = {(v["kind"], v["vendor"]): v["total"] for v in cost["per_vendor"]}
    assert vendors == {("llm", "claude"): 2.0, ("tts", "piper"): 0.0, ("llm", "scripted"): 0.0}
    assert cost["per_day"] == [
        {"day": datetime.now(UTC).date().isoformat(), "calls": 1, "total": 2.0}
    ]
    theirs = (await client.get("/api/v1/analytics", headers=other_tenant.viewer)).json()["cost"]
    assert theirs["calls"] == 0


async def test_a_webhook_subscribes_to_call_analyzed(
    client: httpx.AsyncClient, tenant: TenantHandle
) -> None:
    every = [
        "call.started",
        "call.answered",
        "call.ended",
        "call.failed",
        "voicemail.detected",
        "call.analyzed",
    ]
    created = await client.post(
        "/api/v1/webhooks",
        json={"url": "https://hooks.example.com/analysed", "events": every},
        headers=tenant.admin,
    )
    assert created.status_code == 201, created.text
    assert created.json()["events"] == every
