"""The post-call worker over real PostgreSQL and Redis: finished call records are priced and
analysed, by the OpenAI-compatible fake (the chat-completions wire protocol over a real
socket) or the offline scripted dialogue, and `call.analyzed` is queued for the webhooks."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from redis.asyncio import Redis

from api.webhooks.lifecycle import WebhookEventSink
from ari_app.agent_loader import StoreAgentLoader
from ari_app.post_call import ANALYSIS_MAX_TOKENS, MAX_ATTEMPTS, PostCallWorker
from providers import registry
from store.models import CallRecord
from store.repositories.calls import CallRepository
from store.repositories.config import (
    AgentRepository,
    ProviderCredentialRepository,
    WebhookRepository,
)
from store.repositories.post_call import PostCallQueue, TenantPriceRepository
from store.repositories.tenants import TenantsRepository
from store.secrets import SecretBox
from tests.fakes.openai_compatible import FAKE_API_KEY, FakeOpenAI

BOX = SecretBox("post-call-tests-secret-key-0123456789abcdef")
TRANSCRIPT = [
    {"role": "agent", "text": "Riverside Hair Studio, how can I help?", "at_ms": 0},
    {"role": "caller", "text": "I'd like to book a haircut for tomorrow morning.", "at_ms": 2000},
    {"role": "agent", "text": "Perfect, you're booked for tomorrow morning.", "at_ms": 4000},
    {"role": "caller", "text": "Thanks, goodbye.", "at_ms": 6000},
]
SCHEMA = {
    "type": "object",
    "properties": {"day": {"type": "string"}, "part": {"type": "string"}},
    "required": ["day"],
}
CRITERIA = "The caller booked an appointment."
USAGE = {
    "stt:deepgram": {"audio_seconds": 60.0, "requests": 1, "model": "nova-3"},
    "llm:claude": {
        "input_tokens": 1000,
        "output_tokens": 200,
        "requests": 2,
        "model": "claude-haiku-4-5",
    },
    "tts:piper": {"characters": 120, "audio_seconds": 9.5, "requests": 2},
}
# Deepgram Nova-3 $0.0059 a minute, Claude Haiku 4.5 $1 and $5 per million tokens, Piper 0.
DEFAULT_TOTAL = 0.0059 + 0.001 + 0.001


@pytest.fixture
async def fake_llm() -> AsyncIterator[FakeOpenAI]:
    server = FakeOpenAI()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def worker(pg_pool: asyncpg.Pool, redis: Redis) -> PostCallWorker:
    return PostCallWorker(
        PostCallQueue(pg_pool),
        AgentRepository(pg_pool),
        TenantPriceRepository(pg_pool),
        StoreAgentLoader(pg_pool, redis, BOX),
        registry.build,
        WebhookEventSink(pg_pool, BOX, redis),
        retry_delays_s=(0.0, 0.0),
    )


async def _tenant(pool: asyncpg.Pool) -> uuid.UUID:
    tenant = await TenantsRepository(pool).create(f"post-call-{uuid.uuid4().hex[:8]}")
    await WebhookRepository(pool, BOX).create(
        tenant.id,
        {"url": "http://127.0.0.1:9/hook", "events": ["call.analyzed"], "secret": "s" * 32},
    )
    return tenant.id


async def _agent(pool: asyncpg.Pool, tenant_id: uuid.UUID, analysis: dict[str, Any]) -> uuid.UUID:
    agent = await AgentRepository(pool).create(
        tenant_id,
        {
            "name": f"agent-{uuid.uuid4().hex[:8]}",
            "system_prompt": "You answer the phone for a salon.",
            "welcome_message": "Hello.",
            "welcome_interruptible": False,
            "barge_in_sensitivity": "high",
            "stt": {"vendor": "pocketsphinx"},
            "llm": {"vendor": "scripted"},
            "tts": {"vendor": "piper"},
            "analysis": analysis,
        },
    )
    assert agent is not None
    return agent.id


async def _fake_choice(
    pool: asyncpg.Pool, tenant_id: uuid.UUID, fake: FakeOpenAI
) -> dict[str, Any]:
    credential = await ProviderCredentialRepository(pool, BOX).create(
        tenant_id,
        {
            "name": f"fake-{uuid.uuid4().hex[:8]}",
            "kind": "llm",
            "vendor": "openai_compatible",
            "api_key": FAKE_API_KEY,
            "model": "gpt-fake",
            "options": {"base_url": fake.base_url, "max_attempts": 1},
        },
    )
    return {"credential_id": str(credential.id), "vendor": "openai_compatible", "options": {}}


async def _call(pool: asyncpg.Pool, tenant_id: uuid.UUID, agent_id: uuid.UUID) -> uuid.UUID:
    call_id = uuid.uuid4()
    await CallRepository(pool).upsert(
        CallRecord(
            id=call_id,
            tenant_id=tenant_id,
            agent_id=agent_id,
            direction="inbound",
            status="completed",
            outcome="agent_ended",
            transcript=TRANSCRIPT,
            provider_usage=USAGE,
        )
    )
    return call_id


async def _drain(worker: PostCallWorker) -> None:
    """Work until nothing is due (other tests' finished calls included)."""
    while await worker.run_once():
        pass


async def _record(pool: asyncpg.Pool, tenant_id: uuid.UUID, call_id: uuid.UUID) -> CallRecord:
    record = await CallRepository(pool).get(tenant_id, call_id)
    assert record is not None
    return record


async def _analyzed_deliveries(pool: asyncpg.Pool, call_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT payload FROM webhook_deliveries WHERE event_type = 'call.analyzed' "
        "AND ordering_key = $1",
        str(call_id),
    )
    return [dict(r["payload"]) for r in rows]


async def test_a_model_analysis_and_the_cost_land_on_the_record_and_are_announced(
    pg_pool: asyncpg.Pool, worker: PostCallWorker, fake_llm: FakeOpenAI
) -> None:
    tenant_id = await _tenant(pg_pool)
    choice = await _fake_choice(pg_pool, tenant_id, fake_llm)
    agent_id = await _agent(
        pg_pool,
        tenant_id,
        {"enabled": True, "success_criteria": CRITERIA, "schema": SCHEMA, "llm": choice},
    )
    fake_llm.reply = (
        "```json\n"
        + json.dumps(
            {
                "summary": "The caller booked a haircut for tomorrow morning.",
                "success": True,
                "success_reason": "An appointment was booked.",
                "data": {"day": "tomorrow", "part": "morning"},
            }
        )
        + "\n```"
    )
    call_id = await _call(pg_pool, tenant_id, agent_id)

    await _drain(worker)

    record = await _record(pg_pool, tenant_id, call_id)
    assert record.analysis is not None
    assert record.analysis["status"] == "done"
    assert record.analysis["summary"] == "The caller booked a haircut for tomorrow morning."
    assert record.analysis["success"] is True
    assert record.analysis["success_reason"] == "An appointment was booked."
    assert record.analysis["data"] == {"day": "tomorrow", "part": "morning"}
    assert record.analysis["vendor"] == "openai_compatible"
    # The model read the transcript, the criteria and the schema.
    asked = json.dumps(fake_llm.requests[-1].body["messages"])
    assert "book a haircut for tomorrow morning" in asked
    assert CRITERIA in asked and '\\"part\\"' in asked
    # Room for the JSON answer, beyond the 300 tokens a spoken reply gets.
    assert fake_llm.requests[-1].body["max_tokens"] == ANALYSIS_MAX_TOKENS
    assert record.cost is not None
    assert record.cost["total"] == pytest.approx(DEFAULT_TOTAL)
    items = {i["provider"]: i for i in record.cost["items"]}
    assert items["tts:piper"]["offline"] is True and items["tts:piper"]["amount"] == 0
    assert items["stt:deepgram"]["amount"] == pytest.approx(0.0059)
    # The analysis' own tokens are counted, and say they have no price rather than cost 0.
    assert items["analysis:llm:openai_compatible"]["output_tokens"] > 0
    assert record.cost["unpriced"] == ["analysis:llm:openai_compatible"]
    [payload] = await _analyzed_deliveries(pg_pool, call_id)
    assert payload["call_id"] == str(call_id)
    assert payload["analysis"]["data"] == {"day": "tomorrow", "part": "morning"}
    assert payload["cost"]["total"] == pytest.approx(DEFAULT_TOTAL)


async def test_data_that_breaks_the_schema_is_named_and_the_rest_kept(
    pg_pool: asyncpg.Pool, worker: PostCallWorker, fake_llm: FakeOpenAI
) -> None:
    tenant_id = await _tenant(pg_pool)
    choice = await _fake_choice(pg_pool, tenant_id, fake_llm)
    agent_id = await _agent(pg_pool, tenant_id, {"enabled": True, "schema": SCHEMA, "llm": choice})
    fake_llm.reply = json.dumps(
        {"summary": "A booking.", "success": None, "data": {"day": 3, "part": "morning"}}
    )
    call_id = await _call(pg_pool, tenant_id, agent_id)

    await _drain(worker)

    analysis = (await _record(pg_pool, tenant_id, call_id)).analysis
    assert analysis is not None
    assert analysis["status"] == "done" and analysis["summary"] == "A booking."
    assert analysis["data"] is None
    assert "day" in analysis["data_error"] and "string" in analysis["data_error"]


async def test_a_model_that_never_answers_properly_is_tried_a_bounded_number_of_times(
    pg_pool: asyncpg.Pool, worker: PostCallWorker, fake_llm: FakeOpenAI
) -> None:
    tenant_id = await _tenant(pg_pool)
    choice = await _fake_choice(pg_pool, tenant_id, fake_llm)
    agent_id = await _agent(pg_pool, tenant_id, {"enabled": True, "llm": choice})
    fake_llm.reply = "I'd rather not say."
    call_id = await _call(pg_pool, tenant_id, agent_id)

    await _drain(worker)

    record = await _record(pg_pool, tenant_id, call_id)
    assert len(fake_llm.requests) == MAX_ATTEMPTS
    assert record.analysis is not None
    assert record.analysis["status"] == "failed"
    assert "no JSON object" in record.analysis["error"]
    assert record.analysis["attempts"] == MAX_ATTEMPTS
    # Nothing of the call is lost: its transcript stays, its cost is there.
    assert record.transcript == TRANSCRIPT
    assert record.cost is not None and record.cost["total"] == pytest.approx(DEFAULT_TOTAL)
    [payload] = await _analyzed_deliveries(pg_pool, call_id)
    assert payload["analysis"]["status"] == "failed"


async def test_a_refused_key_is_recorded_at_once(
    pg_pool: asyncpg.Pool, worker: PostCallWorker, fake_llm: FakeOpenAI
) -> None:
    tenant_id = await _tenant(pg_pool)
    choice = await _fake_choice(pg_pool, tenant_id, fake_llm)
    agent_id = await _agent(pg_pool, tenant_id, {"enabled": True, "llm": choice})
    fake_llm.api_key = "sk-another-key"
    call_id = await _call(pg_pool, tenant_id, agent_id)

    await _drain(worker)

    analysis = (await _record(pg_pool, tenant_id, call_id)).analysis
    assert analysis is not None and analysis["status"] == "failed"
    assert analysis["attempts"] == 1 and "401" in analysis["error"]


async def test_the_scripted_dialogue_says_what_it_understood_and_what_it_cannot_judge(
    pg_pool: asyncpg.Pool, worker: PostCallWorker
) -> None:
    tenant_id = await _tenant(pg_pool)
    agent_id = await _agent(
        pg_pool, tenant_id, {"enabled": True, "success_criteria": CRITERIA, "schema": SCHEMA}
    )
    call_id = await _call(pg_pool, tenant_id, agent_id)

    await _drain(worker)

    analysis = (await _record(pg_pool, tenant_id, call_id)).analysis
    assert analysis is not None and analysis["status"] == "done"
    assert analysis["vendor"] == "scripted"
    assert "booking, goodbye" in analysis["summary"]
    assert "day tomorrow" in analysis["summary"]
    assert analysis["data"] == {"day": "tomorrow", "part": "morning"}
    assert analysis["success"] is None
    assert analysis["unavailable"] == ["success"]
    assert "cannot judge" in analysis["unavailable_reason"]


async def test_an_agent_without_analysis_gets_the_cost_only(
    pg_pool: asyncpg.Pool, worker: PostCallWorker
) -> None:
    tenant_id = await _tenant(pg_pool)
    agent_id = await _agent(pg_pool, tenant_id, {})
    call_id = await _call(pg_pool, tenant_id, agent_id)

    await _drain(worker)

    record = await _record(pg_pool, tenant_id, call_id)
    assert record.analysis is None
    assert record.cost is not None and record.cost["total"] == pytest.approx(DEFAULT_TOTAL)
    assert await _analyzed_deliveries(pg_pool, call_id) == []


async def test_a_tenants_prices_replace_the_defaults_for_its_calls_only(
    pg_pool: asyncpg.Pool, worker: PostCallWorker
) -> None:
    tenant_id = await _tenant(pg_pool)
    other_id = await _tenant(pg_pool)
    await TenantPriceRepository(pg_pool).replace(
        tenant_id,
        [
            {"kind": "stt", "vendor": "deepgram", "model": "*", "per_audio_minute": 0.01},
            {"kind": "tts", "vendor": "piper", "per_million_characters": 1000.0},
        ],
    )
    calls = [
        (t, await _call(pg_pool, t, await _agent(pg_pool, t, {}))) for t in (tenant_id, other_id)
    ]

    await _drain(worker)

    mine, theirs = [(await _record(pg_pool, t, c)).cost for t, c in calls]
    assert mine is not None and theirs is not None
    # Nova-3 has a default row of its own, which the tenant's `*` row does not replace;
    # Piper is offline, so free whatever the table says.
    assert mine["total"] == pytest.approx(DEFAULT_TOTAL)
    assert theirs["total"] == pytest.approx(DEFAULT_TOTAL)
    await TenantPriceRepository(pg_pool).replace(
        tenant_id,
        [{"kind": "stt", "vendor": "deepgram", "model": "nova-3", "per_audio_minute": 0.01}],
    )
    call_id = await _call(pg_pool, tenant_id, await _agent(pg_pool, tenant_id, {}))
    await _drain(worker)
    cost = (await _record(pg_pool, tenant_id, call_id)).cost
    assert cost is not None and cost["total"] == pytest.approx(0.01 + 0.002)
