"""Inbound calls end to end: fake Asterisk -> controller -> AudioSocket -> pipeline."""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from redis.asyncio import Redis

from provisioning.models import InboundRoute
from provisioning.render import render_dialplan
from store.live_calls import LiveCallStore
from store.repositories.calls import CallRepository
from tests.ari.harness import Process, eventually, make_agent
from tests.fakes.asterisk import FakeAsterisk
from tests.fakes.fake_providers import FakeLLM, Fault, permanent
from tests.pipeline.memory_leg import silence_pcm, speech_pcm


@pytest.fixture
async def fake() -> AsyncIterator[FakeAsterisk]:
    server = FakeAsterisk()
    await server.start()
    yield server
    await server.stop()


async def test_inbound_call_both_ways_caller_hangs_up(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    agent = await make_agent(pg_pool)
    proc = Process(
        fake,
        pg_pool,
        redis,
        stt_script=["I would like a table"],
        llm_replies=["Of course, for how many people?"],
    )
    await proc.start()
    try:
        caller = await fake.inbound_call(agent.did, caller_number="+15557654321")
        await asyncio.wait_for(caller.answered.wait(), 5)
        await caller.wait_received(1000)  # the welcome message reached the caller
        assert caller.first_audio_at is not None
        caller.play(speech_pcm(800) + silence_pcm(700))
        await eventually(lambda: len(proc.llms[0].requests) == 1)
        heard_before_reply = caller.received_ms
        await caller.wait_received(heard_before_reply + 1000)  # the reply is ~1.24 s
        await caller.wait_quiet()
        await caller.hangup()
        await eventually(lambda: not fake.live_channels() and not fake.live_bridges())
        assert proc.controller is not None
        await eventually(lambda: not proc.controller.sessions)  # type: ignore[union-attr]
    finally:
        await proc.stop()
    page = await CallRepository(pg_pool).list_page(agent.tenant_id)
    [record] = page.items
    assert record.error_reason is None  # our own hangup of the media channel is no error
    assert (record.direction, record.status, record.outcome) == (
        "inbound",
        "completed",
        "caller_hung_up",
    )
    assert record.from_number == "+15557654321" and record.to_number == agent.did
    assert record.answered_at is not None and record.ended_at is not None
    texts = [(t["role"], t["text"]) for t in record.transcript]
    assert ("caller", "I would like a table") in texts
    assert ("agent", "Of course, for how many people?") in texts
    assert await LiveCallStore(redis).live_call_ids(agent.tenant_id) == []


async def test_agent_ends_call_with_end_call(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    agent = await make_agent(pg_pool)
    proc = Process(
        fake,
        pg_pool,
        redis,
        stt_script=["goodbye"],
        llm_replies=["Thanks for calling, goodbye. [END_CALL]"],
    )
    await proc.start()
    try:
        caller = await fake.inbound_call(agent.did)
        await asyncio.wait_for(caller.answered.wait(), 5)
        await caller.wait_received(500)
        caller.play(speech_pcm(600) + silence_pcm(700))
        await caller.wait_ended(15)
        assert caller.ended_by == "asterisk"
        await eventually(lambda: not fake.live_channels() and not fake.live_bridges())
    finally:
        await proc.stop()
    [record] = (await CallRepository(pg_pool).list_page(agent.tenant_id)).items
    assert (record.status, record.outcome) == ("completed", "agent_ended")
    assert record.error_reason is None, record.error_reason


async def test_media_channel_ended_by_asterisk_is_an_error(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    agent = await make_agent(pg_pool)
    proc = Process(fake, pg_pool, redis)
    await proc.start()
    try:
        caller = await fake.inbound_call(agent.did)
        await asyncio.wait_for(caller.answered.wait(), 5)
        await caller.wait_received(500)
        [media] = [c for c in fake.live_channels() if c.kind == "audiosocket"]
        fake.hangup_channel(media.id)
        await caller.wait_ended(10)
        await eventually(lambda: not fake.live_channels() and not fake.live_bridges())
    finally:
        await proc.stop()
    [record] = (await CallRepository(pg_pool).list_page(agent.tenant_id)).items
    assert record.error_reason == "external media channel ended"


async def test_plus_numbers_reach_their_agent_in_every_dialled_form(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    did = f"+1555{uuid.uuid4().int % 10**7:07d}"
    agent = await make_agent(pg_pool, did=did)
    routes = render_dialplan([], routes=[InboundRoute(did=did, agent_id=str(agent.agent_id))])
    proc = Process(fake, pg_pool, redis)
    await proc.start()
    try:
        for context, dialled in (
            ("vocals-inbound", did),
            ("vocals-inbound", did[1:]),
            ("vocals-inbound", f"00{did[1:]}"),
            ("vocals-inbound-routes", did),
            ("vocals-inbound-routes", did[1:]),
        ):
            caller = await fake.dial_in(dialled, context=context, generated=(routes,))
            await asyncio.wait_for(caller.answered.wait(), 5)
            await caller.hangup()
        await eventually(lambda: not fake.live_channels() and not fake.live_bridges())
    finally:
        await proc.stop()
    page = await CallRepository(pg_pool).list_page(agent.tenant_id)
    assert [r.to_number for r in page.items] == [did] * 5


async def test_unknown_did_is_hung_up_without_a_record(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    proc = Process(fake, pg_pool, redis)
    await proc.start()
    try:
        caller = await fake.inbound_call("19999999999")
        await caller.wait_ended(5)
        assert not caller.answered.is_set()
        hangups = fake.calls_to("DELETE", f"/channels/{caller.channel_id}")
        assert [h.params for h in hangups] == [{"reason": "unallocated"}]
        assert fake.calls_to("POST", "/bridges") == []
    finally:
        await proc.stop()


async def test_draining_refuses_new_calls_and_waits_for_live_ones(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    agent = await make_agent(pg_pool)
    proc = Process(fake, pg_pool, redis)
    await proc.start()
    assert proc.controller is not None
    controller = proc.controller
    try:
        live = await fake.inbound_call(agent.did)
        await asyncio.wait_for(live.answered.wait(), 5)
        await eventually(lambda: len(controller.sessions) == 1)

        draining = asyncio.create_task(controller.drain(10))
        await eventually(lambda: controller.draining)
        refused = await fake.inbound_call(agent.did)
        await asyncio.wait_for(refused.wait_ended(), 5)
        assert not refused.answered.is_set()
        assert not draining.done()

        await live.hangup()
        assert await asyncio.wait_for(draining, 5) == 0
    finally:
        await proc.stop()


async def _first_llm(proc: Process) -> FakeLLM:
    await eventually(lambda: bool(proc.llms))
    return proc.llms[0]


def _asked_at_least(llm: FakeLLM, requests: int) -> bool:
    return len(llm.requests) >= requests


async def test_a_call_ended_by_a_failing_llm_records_that_reason(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    agent = await make_agent(pg_pool)
    proc = Process(fake, pg_pool, redis, welcome="Hi.", stt_script=["one", "two", "three"],
                   llm_fault=Fault(permanent()), apology="Sorry.")  # fmt: skip
    await proc.start()
    try:
        caller = await fake.inbound_call(agent.did)
        await caller.wait_received(150)  # the welcome
        llm = await _first_llm(proc)
        for said in range(1, 4):
            await caller.wait_quiet()
            caller.play(speech_pcm(600) + silence_pcm(700))
            await eventually(functools.partial(_asked_at_least, llm, said))
        await caller.wait_ended()
        await eventually(lambda: not fake.live_channels() and not fake.live_bridges())
    finally:
        await proc.stop()
    [record] = (await CallRepository(pg_pool).list_page(agent.tenant_id)).items
    assert record.error_reason == "language model failed repeatedly"
