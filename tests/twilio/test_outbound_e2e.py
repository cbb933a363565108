"""Outbound Twilio calls: REST create with AMD, async AnsweredBy -> voicemail policy or the
conversation, unanswered calls recorded from status callbacks, REST errors and retries."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import msgspec
from redis.asyncio import Redis

from store.live_calls import LiveCallStore
from store.outbound_queue import OutboundJob
from tests.fakes.twilio import Callee, FakeCall, FakeTwilio
from tests.pipeline.memory_leg import silence_pcm, speech_pcm
from tests.twilio.harness import Tenancy, TwilioProcess, make_twilio_agent
from tests.twilio.util import eventually, quiet, record_of

CALLEE = "+15550001111"


def _job(agent: Tenancy) -> OutboundJob:
    return OutboundJob(call_id=uuid.uuid4(), tenant_id=agent.tenant_id, agent_id=agent.agent_id,
                       to_number=CALLEE, variables={"campaign": "spring"})  # fmt: skip


async def _placed(proc: TwilioProcess, fake: FakeTwilio, agent: Tenancy) -> FakeCall:
    assert proc.outbound is not None
    assert await proc.outbound.handles(_job(agent))
    call = await proc.outbound.place(_job(agent))
    assert call.status.value == "dialing", call.error
    [placed] = fake.calls.values()
    return placed


async def test_human_answer_gets_the_conversation(
    fake: FakeTwilio, proc: TwilioProcess, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    agent = await make_twilio_agent(pg_pool, proc.box, fake)
    fake.callees[CALLEE] = Callee("human", amd_delay_s=0.3)
    placed = await _placed(proc, fake, agent)
    path, form = fake.api_requests[0]
    assert path.endswith(f"/Accounts/{fake.account_sid}/Calls.json")
    assert form["From"] == [agent.did] and form["To"] == [CALLEE]
    assert form["MachineDetection"] == ["DetectMessageEnd"] and form["AsyncAmd"] == ["true"]
    assert form["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    await asyncio.wait_for(placed.stream_ready.wait(), 5)
    stream = placed.stream
    assert stream is not None
    await quiet(stream)  # the welcome, once AMD said human
    assert stream.log.media_times[0] - stream.started_at >= 0.25  # not before the verdict
    stream.say(speech_pcm(800) + silence_pcm(700))
    await eventually(lambda: len(proc.llms[0].requests) == 1)
    await quiet(stream)
    await stream.hang_up()
    record = await record_of(pg_pool, agent.tenant_id)
    assert (record.direction, record.status, record.outcome, record.transport) == (
        "outbound", "completed", "caller_hung_up", "twilio",
    )  # fmt: skip
    assert record.variables["amd"] == {"status": "HUMAN", "cause": "human"}
    assert record.variables["campaign"] == "spring"
    assert record.from_number == agent.did and record.to_number == CALLEE
    assert ("caller", "I would like a table") in [(t["role"], t["text"]) for t in record.transcript]
    assert await LiveCallStore(redis).live_call_ids(agent.tenant_id) == []
    assert all(h.status in (200, 204) for h in fake.webhooks), fake.webhooks


async def test_machine_with_leave_message_policy_plays_it_and_hangs_up(
    fake: FakeTwilio, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    proc = TwilioProcess(fake, pg_pool, redis)
    await proc.start()
    try:
        message = "Hi, this is the restaurant calling back about your booking."
        agent = await make_twilio_agent(pg_pool, proc.box, fake, voicemail="leave_message",
                                        message=message)  # fmt: skip
        fake.callees[CALLEE] = Callee("machine", amd_delay_s=0.5)
        placed = await _placed(proc, fake, agent)
        await asyncio.wait_for(placed.done.wait(), 15)
        stream = placed.stream
        assert stream is not None
        assert stream.heard_ms >= len(message) * 40 - 200  # played to the end, in real time
        assert proc.llms == []  # no conversation
        assert placed.hung_up_by_api  # ended through the REST API, Status=completed
        assert ("Status", ["completed"]) in [
            next(iter(form.items())) for _, form in fake.api_requests[1:]
        ]
        record = await record_of(pg_pool, agent.tenant_id)
        assert (record.status, record.outcome) == ("completed", "voicemail")
        # The record shows the message heard to its end (what makes a campaign's lead
        # `voicemail_left`).
        assert [(t["role"], t["text"], t["interrupted"]) for t in record.transcript] == [
            ("agent", message, False)
        ]
        assert record.variables["amd"] == {"status": "MACHINE", "cause": "machine_end_beep"}
        assert proc.events.types(record.id) == [
            "call.started", "call.answered", "voicemail.detected", "call.ended",
        ]  # fmt: skip
    finally:
        await proc.stop()


async def test_machine_with_hangup_policy_never_talks(
    fake: FakeTwilio, proc: TwilioProcess, pg_pool: asyncpg.Pool
) -> None:
    agent = await make_twilio_agent(pg_pool, proc.box, fake, voicemail="hangup")
    fake.callees[CALLEE] = Callee("machine", amd_delay_s=0.3)
    placed = await _placed(proc, fake, agent)
    await asyncio.wait_for(placed.done.wait(), 10)
    assert placed.stream is not None and placed.stream.log.media_bytes == 0
    assert proc.llms == []
    record = await record_of(pg_pool, agent.tenant_id)
    assert (record.status, record.outcome) == ("completed", "voicemail")


async def test_busy_callee_is_recorded_from_the_status_callback(
    fake: FakeTwilio, proc: TwilioProcess, pg_pool: asyncpg.Pool
) -> None:
    agent = await make_twilio_agent(pg_pool, proc.box, fake)
    fake.callees[CALLEE] = Callee("busy")
    placed = await _placed(proc, fake, agent)
    await asyncio.wait_for(placed.done.wait(), 5)
    record = await record_of(pg_pool, agent.tenant_id)
    assert (record.direction, record.status, record.transport) == ("outbound", "busy", "twilio")
    assert placed.stream is None
    assert proc.events.types(record.id) == ["call.started", "call.failed"]
    assert [h.params[6] for h in fake.webhooks] == [
        ("CallStatus", "initiated"), ("CallStatus", "ringing"), ("CallStatus", "busy"),
    ]  # fmt: skip


async def test_rest_retries_429_and_5xx(
    fake: FakeTwilio, proc: TwilioProcess, pg_pool: asyncpg.Pool
) -> None:
    agent = await make_twilio_agent(pg_pool, proc.box, fake)
    fake.callees[CALLEE] = Callee("busy")
    fake.api_failures = [429, 503]
    placed = await _placed(proc, fake, agent)
    assert len(fake.api_requests) == 3  # two retried failures, then created
    await asyncio.wait_for(placed.done.wait(), 5)
    assert (await record_of(pg_pool, agent.tenant_id)).status == "busy"


async def test_rest_refusal_is_final_and_recorded(
    fake: FakeTwilio, proc: TwilioProcess, pg_pool: asyncpg.Pool
) -> None:
    assert proc.outbound is not None
    agent = await make_twilio_agent(pg_pool, proc.box, fake)
    fake.api_failures = [400]
    call = await proc.outbound.place(_job(agent))
    assert len(fake.api_requests) == 1  # a 4xx is not retried
    assert call.status.value == "failed" and "Twilio refused" in (call.error or "")
    assert fake.calls == {}
    record = await record_of(pg_pool, agent.tenant_id)
    assert (record.status, record.direction) == ("failed", "outbound")


async def test_agent_without_twilio_number_is_not_handled(
    fake: FakeTwilio, proc: TwilioProcess, pg_pool: asyncpg.Pool
) -> None:
    assert proc.outbound is not None
    agent = await make_twilio_agent(pg_pool, proc.box, fake, provider="asterisk")
    assert not await proc.outbound.handles(_job(agent))


async def test_a_call_given_a_sip_trunk_goes_out_on_the_trunk_not_twilio(
    fake: FakeTwilio, proc: TwilioProcess, pg_pool: asyncpg.Pool
) -> None:
    """The trunk a caller chose for one call is not ignored because the agent has a Twilio
    number."""
    assert proc.outbound is not None
    agent = await make_twilio_agent(pg_pool, proc.box, fake)
    job = msgspec.structs.replace(_job(agent), trunk_id=uuid.uuid4())
    assert not await proc.outbound.handles(job)
