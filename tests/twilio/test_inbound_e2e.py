"""Inbound Twilio calls end to end: Twilio fake -> voice webhook -> Media Stream -> the
controller's pipeline port -> call record, over real sockets, PostgreSQL and Redis."""

from __future__ import annotations

import asyncio

import asyncpg
from redis.asyncio import Redis

from store.live_calls import LiveCallStore
from store.repositories.calls import CallRepository
from tests.fakes.twilio import FakeTwilio
from tests.pipeline.memory_leg import silence_pcm, speech_pcm
from tests.twilio.harness import TwilioProcess, make_twilio_agent
from tests.twilio.util import eventually, quiet, record_of


async def test_inbound_conversation_barge_in_then_stop(
    fake: FakeTwilio, proc: TwilioProcess, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    agent = await make_twilio_agent(pg_pool, proc.box, fake)
    call = await fake.inbound_call(proc.voice_url, from_="+15557654321", to=agent.did)
    await asyncio.wait_for(call.stream_ready.wait(), 5)
    stream = call.stream
    assert stream is not None
    assert '<Connect><Stream url="ws://127.0.0.1:' in call.twiml
    await quiet(stream)
    assert stream.heard_ms >= 1000  # the welcome message, played in real time
    assert stream.log.marks_sent_back  # its mark came back once it had played

    stream.say(speech_pcm(800) + silence_pcm(700))
    await eventually(lambda: len(proc.llms[0].requests) == 1)
    heard_before_reply = stream.heard_ms
    await eventually(lambda: stream.heard_ms >= heard_before_reply + 1000)
    assert not stream.log.clears
    stream.say(speech_pcm(800) + silence_pcm(700))  # the caller talks over the agent
    await eventually(lambda: bool(stream.log.clears), timeout_s=5)
    # Paced on our side: only the small lead was waiting at Twilio when `clear` came.
    assert stream.log.dropped_on_clear_ms[0] <= 200
    await eventually(lambda: len(proc.llms[0].requests) == 2)
    await quiet(stream)

    await stream.hang_up()  # Twilio: stop, then the socket closes
    record = await record_of(pg_pool, agent.tenant_id)
    assert (record.direction, record.status, record.outcome, record.transport) == (
        "inbound", "completed", "caller_hung_up", "twilio",
    )  # fmt: skip
    assert record.from_number == "+15557654321" and record.to_number == agent.did
    assert record.answered_at is not None and record.ended_at is not None
    texts = [(t["role"], t["text"]) for t in record.transcript]
    assert ("caller", "I would like a table") in texts
    assert any(role == "agent" and t.startswith("Of course") for role, t in texts)
    assert any(turn.get("interrupted") for turn in record.turns)
    assert await LiveCallStore(redis).live_call_ids(agent.tenant_id) == []
    assert not stream.log.errors
    await asyncio.wait_for(call.done.wait(), 5)
    assert call.status == "completed"
    assert proc.events.types(record.id) == ["call.started", "call.answered", "call.ended"]


async def test_dtmf_reaches_the_conversation(
    fake: FakeTwilio, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    proc = TwilioProcess(fake, pg_pool, redis, llm_replies=["You pressed four two."])
    await proc.start()
    try:
        agent = await make_twilio_agent(pg_pool, proc.box, fake)
        call = await fake.inbound_call(proc.voice_url, from_="+15557654321", to=agent.did)
        await asyncio.wait_for(call.stream_ready.wait(), 5)
        stream = call.stream
        assert stream is not None
        await quiet(stream)
        await stream.press("4")
        await stream.press("2")
        await eventually(lambda: len(proc.llms[0].requests) == 1)
        assert "4 2" in proc.llms[0].requests[0][-1].content
        await stream.hang_up()
        await record_of(pg_pool, agent.tenant_id)
    finally:
        await proc.stop()


async def test_number_not_carried_by_twilio_is_rejected(
    fake: FakeTwilio, proc: TwilioProcess, pg_pool: asyncpg.Pool
) -> None:
    agent = await make_twilio_agent(pg_pool, proc.box, fake, provider="asterisk")
    call = await fake.inbound_call(proc.voice_url, from_="+15557654321", to=agent.did)
    await asyncio.wait_for(call.done.wait(), 5)
    assert "<Reject" in call.twiml and call.stream is None
    assert (await CallRepository(pg_pool).list_page(agent.tenant_id)).items == []
