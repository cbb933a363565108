"""Call lifecycle events: from the controller, through the webhook queue (signed, retried,
deduplicated by event id) to a local receiver, and live on the tenant's Redis channel."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import msgspec
import pytest
from redis.asyncio import Redis

from api.webhooks.lifecycle import WebhookEventSink, tenant_events_channel
from api.webhooks.signing import EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from api.webhooks.worker import WebhookWorker
from ari_app.call_events import event_id
from ari_app.ports import CallEvent
from store.outbound_queue import OutboundJob, OutboundQueue
from store.repositories.calls import CallRepository
from store.repositories.config import WebhookRepository
from store.repositories.webhooks import WebhookDeliveryRepository
from store.secrets import SecretBox
from tests.api.webhook_receiver import Received, WebhookReceiver
from tests.ari.harness import Tenancy, eventually, make_agent
from tests.fakes.asterisk import Callee, FakeAsterisk
from tests.pipeline.memory_leg import silence_pcm, speech_pcm
from tests.recordings.harness import RecordingProcess

SECRET = "whsec-lifecycle-tests"
ALL_EVENTS = ["call.started", "call.answered", "call.ended", "call.failed", "voicemail.detected"]


class MemorySink:
    """A `CallEventSink` that keeps what it is given (and can fail its first attempts)."""

    def __init__(self, failures: int = 0) -> None:
        self.events: list[CallEvent] = []
        self.attempts = 0
        self._failures = failures

    async def publish(self, event: CallEvent) -> None:
        self.attempts += 1
        if self.attempts <= self._failures:
            raise ConnectionError("sink down")
        self.events.append(event)

    def of(self, call_id: uuid.UUID) -> list[CallEvent]:
        """This call's events (a dispatcher may also dial other tests' queued calls)."""
        return [e for e in self.events if e.payload["call_id"] == str(call_id)]

    def types(self, call_id: uuid.UUID) -> list[str]:
        return [e.type for e in self.of(call_id)]


@pytest.fixture
async def fake() -> AsyncIterator[FakeAsterisk]:
    server = FakeAsterisk(time_scale=0.02)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    server = WebhookReceiver()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def box() -> SecretBox:
    return SecretBox("lifecycle-tests-secret-key-0123456789")


async def _subscribe(pool: asyncpg.Pool, box: SecretBox, agent: Tenancy, url: str) -> uuid.UUID:
    hook = await WebhookRepository(pool, box).create(
        agent.tenant_id, {"url": url, "events": ALL_EVENTS, "secret": SECRET, "active": True}
    )
    return hook.id


def _envelope(received: Received) -> dict[str, Any]:
    headers = {k.lower(): v for k, v in received.headers.items()}
    timestamp = int(headers[TIMESTAMP_HEADER.lower()])
    assert verify(SECRET, timestamp, received.body, headers[SIGNATURE_HEADER.lower()])
    envelope: dict[str, Any] = json.loads(received.body)
    assert envelope["id"] == headers[EVENT_ID_HEADER.lower()]
    return envelope


async def test_inbound_call_events_reach_the_receiver_signed_once_each_in_order(
    fake: FakeAsterisk,
    pg_pool: asyncpg.Pool,
    redis: Redis,
    receiver: WebhookReceiver,
    box: SecretBox,
) -> None:
    agent = await make_agent(pg_pool)
    hook_id = await _subscribe(pg_pool, box, agent, receiver.url)
    receiver.statuses = [500]  # the first delivery fails and is retried
    sink = WebhookEventSink(pg_pool, box, redis)
    live = redis.pubsub()
    await live.subscribe(tenant_events_channel(agent.tenant_id))
    worker = WebhookWorker(
        pg_pool, box, allow_private=True, backoff_base_s=0.05, poll_interval_s=0.05
    )
    worker.start()
    proc = RecordingProcess(
        fake,
        pg_pool,
        redis,
        welcome="Hello.",
        stt_script=["thanks"],
        llm_replies=["You are welcome."],
        events=sink,
    )
    await proc.start()
    try:
        caller = await fake.inbound_call(agent.did)
        await caller.wait_received(300)
        caller.play(speech_pcm(500) + silence_pcm(600))
        await eventually(lambda: len(proc.llms[0].requests) == 1)
        await caller.wait_quiet()
        await caller.hangup()
        [record] = await _records(pg_pool, agent)
        # Three events, one of them delivered twice (after the 500).
        await eventually(lambda: len(receiver.received) == 4, timeout_s=15)
        # A retried emit of an event already queued delivers nothing more.
        again = CallEvent(
            id=event_id(record.id, "call.started"),
            tenant_id=agent.tenant_id,
            type="call.started",
            payload={"call_id": str(record.id)},
        )
        await sink.publish(again)
        await asyncio.sleep(0.3)
        live_messages = await _drain(live, 3)
    finally:
        await proc.stop()
        await worker.stop()
        await live.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it untyped

    envelopes = [_envelope(r) for r in receiver.received]
    # In order as they arrived: the 500 hit call.started, and nothing overtook it meanwhile.
    assert [e["type"] for e in envelopes] == [
        "call.started",
        "call.started",
        "call.answered",
        "call.ended",
    ]
    first_try, delivered = envelopes[0], envelopes[1:]
    assert first_try["id"] == delivered[0]["id"], "the retry carries the same event id"
    assert [e["data"]["sequence"] for e in delivered] == [1, 2, 3]
    assert len({e["id"] for e in delivered}) == 3
    assert all(e["data"]["call_id"] == str(record.id) for e in delivered)
    ended = delivered[-1]["data"]
    assert ended["outcome"] == "caller_hung_up" and ended["status"] == "completed"
    assert ended["duration_ms"] == record.duration_ms and ended["duration_ms"] > 0
    assert ended["transcript_summary"]["caller_utterances"] == 1
    assert "caller: thanks" in ended["transcript_summary"]["last_lines"]
    times = [e["data"]["occurred_at"] for e in delivered]
    assert times == sorted(times)
    deliveries = await WebhookDeliveryRepository(pg_pool).list_page(
        agent.tenant_id, filters={"webhook_id": hook_id}
    )
    assert sorted(d.event_type for d in deliveries.items) == sorted(
        ["call.started", "call.answered", "call.ended"]
    )
    assert all(d.status == "delivered" for d in deliveries.items)
    # The dashboard's channel saw them in order, as they happened.
    assert [m["type"] for m in live_messages] == ["call.started", "call.answered", "call.ended"]
    assert [m["id"] for m in live_messages] == [e["id"] for e in delivered]


async def _records(pool: asyncpg.Pool, agent: Tenancy) -> list[Any]:
    repo = CallRepository(pool)
    for _ in range(300):
        page = await repo.list_page(agent.tenant_id)
        if page.items and page.items[0].ended_at is not None:
            return list(page.items)
        await asyncio.sleep(0.05)
    raise TimeoutError("no call record")


async def _drain(live: Any, count: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    async with asyncio.timeout(5):
        while len(messages) < count:
            message = await live.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is not None:
                messages.append(msgspec.json.decode(message["data"]))
    return messages


async def _outbound(
    fake: FakeAsterisk, pool: asyncpg.Pool, redis: Redis, callee: Callee, app: str
) -> tuple[MemorySink, uuid.UUID]:
    agent = await make_agent(pool)
    number = f"1555{uuid.uuid4().int % 10**7:07d}"
    fake.callees[number] = callee
    sink = MemorySink(failures=1)  # the sink is down at first: the event is published again
    proc = RecordingProcess(fake, pool, redis, app=app, events=sink)
    await proc.start(dispatch=True)
    call_id = uuid.uuid4()
    try:
        await OutboundQueue(redis).enqueue(
            OutboundJob(
                call_id=call_id,
                tenant_id=agent.tenant_id,
                agent_id=agent.agent_id,
                to_number=number,
                from_number="15550001111",
            )
        )
        await eventually(
            lambda: any(e.type in ("call.ended", "call.failed") for e in sink.of(call_id)), 15
        )
    finally:
        await proc.stop()
    return sink, call_id


async def test_busy_outbound_call_starts_and_fails(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    sink, call_id = await _outbound(fake, pg_pool, redis, Callee(outcome="busy"), "vocals-ev1")
    assert sink.types(call_id) == ["call.started", "call.failed"]
    started, failed = sink.of(call_id)
    assert failed.payload["status"] == "busy" and failed.payload["hangup_cause"] == 17
    assert [started.payload["sequence"], failed.payload["sequence"]] == [1, 2]


async def test_machine_answer_announces_voicemail_before_the_end(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    callee = Callee(amd_status="MACHINE", amd_cause="MAXWORDS-3-2")
    sink, call_id = await _outbound(fake, pg_pool, redis, callee, "vocals-ev2")
    assert sink.types(call_id) == [
        "call.started",
        "call.answered",
        "voicemail.detected",
        "call.ended",
    ]
    events = sink.of(call_id)
    voicemail = events[2].payload
    assert (voicemail["amd_status"], voicemail["amd_cause"]) == ("MACHINE", "MAXWORDS-3-2")
    assert events[-1].payload["outcome"] == "voicemail"
    assert len({e.id for e in events}) == 4
