"""The production CallSink: live history in Redis, STT connection events in PostgreSQL."""

from __future__ import annotations

import uuid

import asyncpg
from redis.asyncio import Redis

from ari_app.call import Call, Direction
from ari_app.store_adapters import StoreCallSink
from pipeline.records import CallEvent, TranscriptEntry, TurnMetrics
from store.live_calls import LiveCallStore
from store.repositories.calls import SttEventRepository
from store.repositories.tenants import TenantsRepository


async def test_transcript_turns_and_stt_events_are_kept(
    pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    tenant = await TenantsRepository(pg_pool).create(f"sink-{uuid.uuid4().hex[:8]}")
    call = Call(
        id=uuid.uuid4(), tenant_id=tenant.id, agent_id=uuid.uuid4(), direction=Direction.INBOUND
    )
    live = LiveCallStore(redis)
    await live.start(tenant.id, call.id, {"status": "answered"})
    events = SttEventRepository(pg_pool)
    sink = StoreCallSink(call, live, events)

    await sink.on_event(CallEvent("stt.opened", 5, {"vendor": "pocketsphinx"}))
    await sink.on_event(CallEvent("barge_in", 6))
    await sink.on_transcript(TranscriptEntry("caller", "what are your hours", 1200))
    await sink.on_turn(TurnMetrics(index=1, end_of_speech_ms=1200, first_frame_out_ms=1900))

    history = await live.history(call.id)
    assert [h["type"] for h in history] == ["transcript", "turn"]
    assert history[0]["text"] == "what are your hours"
    assert history[1]["latency"]["total_ms"] == 700
    stored = await events.list_page(tenant.id, filters={"call_id": call.id})
    assert [(e.kind, e.vendor) for e in stored.items] == [("opened", "pocketsphinx")]
