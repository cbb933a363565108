"""Dropped events WebSocket, DTMF, RTP media, and many calls leaving nothing behind."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import asyncpg
import pytest
from redis.asyncio import Redis

from ari_app.ports import MediaTransport
from media.rtp import RtpPortPool
from store.repositories.calls import CallRepository
from tests.ari.harness import Process, eventually, make_agent
from tests.ari.test_ari_outbound_e2e import enqueue
from tests.fakes.asterisk import FakeAsterisk
from tests.pipeline.memory_leg import silence_pcm, speech_pcm


@pytest.fixture
async def fake() -> AsyncIterator[FakeAsterisk]:
    server = FakeAsterisk()
    await server.start()
    yield server
    await server.stop()


async def test_call_survives_a_dropped_events_socket(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    agent = await make_agent(pg_pool)
    proc = Process(
        fake, pg_pool, redis, stt_script=["are you still there"], llm_replies=["Yes, I am here."]
    )
    await proc.start()
    assert proc.controller is not None
    try:
        caller = await fake.inbound_call(agent.did)
        await caller.wait_received(800)
        await fake.drop_event_sockets()
        await fake.wait_for_app("vocals")
        await eventually(lambda: proc.controller is not None and proc.controller.listener.connected)
        assert len(proc.controller.sessions) == 1  # re-adopted: its channels are still there
        caller.play(speech_pcm(700) + silence_pcm(700))
        await eventually(lambda: len(proc.llms[0].requests) == 1)
        heard = caller.received_ms
        await caller.wait_received(heard + 500)  # the reply still reaches the caller
        await caller.hangup()
        await eventually(lambda: not fake.live_channels() and not fake.live_bridges())
    finally:
        await proc.stop()
    [record] = (await CallRepository(pg_pool).list_page(agent.tenant_id)).items
    assert (record.status, record.outcome) == ("completed", "caller_hung_up")


async def test_hangup_while_disconnected_is_cleaned_up_on_reconnect(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    agent = await make_agent(pg_pool)
    proc = Process(fake, pg_pool, redis)
    await proc.start()
    assert proc.controller is not None
    listener = proc.controller.listener
    try:
        caller = await fake.inbound_call(agent.did)
        await caller.wait_received(500)
        await listener.stop()  # the process loses Asterisk for a while
        await fake.drop_event_sockets()
        await caller.hangup()  # StasisEnd is lost: nobody is connected
        assert len(fake.live_channels()) == 1  # the media channel and bridge stay behind
        listener.start()
        await eventually(lambda: not fake.live_channels() and not fake.live_bridges())
        await eventually(lambda: proc.controller is not None and not proc.controller.sessions)
    finally:
        await proc.stop()
    [record] = (await CallRepository(pg_pool).list_page(agent.tenant_id)).items
    assert record.status == "completed"


async def test_orphans_of_a_previous_process_are_removed_on_connect(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    agent = await make_agent(pg_pool)
    first = Process(fake, pg_pool, redis)
    await first.start()
    assert first.controller is not None
    caller = await fake.inbound_call(agent.did)
    await caller.wait_received(300)
    await first.controller.listener.stop()  # the process dies without cleaning up
    await fake.drop_event_sockets()
    assert first.server is not None
    await first.server.stop()
    second = Process(fake, pg_pool, redis)
    await second.start()
    try:
        await eventually(lambda: not fake.live_channels() and not fake.live_bridges())
        assert caller.ended.is_set()
    finally:
        await second.stop()
        await first.controller.ari.close()


@pytest.mark.parametrize("media", ["audiosocket", "rtp"])
async def test_dtmf_reaches_the_conversation_once(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis, media: MediaTransport
) -> None:
    """AudioSocket carries the digits in-band; chan_rtp carries none, so an RTP call takes
    them from ARI's ChannelDtmfReceived. Either way each digit reaches the pipeline once."""
    agent = await make_agent(pg_pool)
    proc = Process(
        fake,
        pg_pool,
        redis,
        llm_replies=["You pressed 42."],
        route_media=media,
        rtp_pool=RtpPortPool(41400, 41500) if media == "rtp" else None,
    )
    await proc.start()
    try:
        caller = await fake.inbound_call(agent.did)
        await caller.wait_received(800)
        await caller.press("42#")
        await eventually(lambda: len(proc.llms[0].requests) == 1)
        await caller.hangup()
        await eventually(lambda: not fake.live_channels())
    finally:
        await proc.stop()
    [record] = (await CallRepository(pg_pool).list_page(agent.tenant_id)).items
    pressed = [t["text"] for t in record.transcript if t["dtmf"]]
    assert len(pressed) == 1 and "4 2 #" in pressed[0], record.transcript


async def test_rtp_media_both_ways(fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis) -> None:
    agent = await make_agent(pg_pool)
    proc = Process(
        fake,
        pg_pool,
        redis,
        stt_script=["hello"],
        llm_replies=["Hello there."],
        route_media="rtp",
        rtp_pool=RtpPortPool(41000, 41100),
    )
    await proc.start()
    try:
        caller = await fake.inbound_call(agent.did)
        await caller.wait_received(800)
        caller.play(speech_pcm(600) + silence_pcm(700))
        await eventually(lambda: len(proc.llms[0].requests) == 1)
        await caller.hangup()
        await eventually(lambda: not fake.live_channels() and not fake.live_bridges())
    finally:
        await proc.stop()
    [ext] = fake.calls_to("POST", "/channels/externalMedia")
    assert (ext.params["encapsulation"], ext.params["format"]) == ("rtp", "ulaw")


async def test_many_calls_leave_no_channel_or_bridge(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    agent = await make_agent(pg_pool)
    proc = Process(fake, pg_pool, redis, welcome="Hi.")
    await proc.start()
    total, concurrent = 200, 25
    # Hang up at once (mid-setup), just after answer, and during the greeting.
    delays = itertools.cycle([0.0, 0.01, 0.05, 0.3])
    try:
        for start in range(0, total, concurrent):
            callers = [
                await fake.inbound_call(agent.did, hangup_after_s=next(delays))
                for _ in range(min(concurrent, total - start))
            ]
            await asyncio.gather(*(c.wait_ended(20) for c in callers))
        await eventually(lambda: not fake.live_channels() and not fake.live_bridges(), 30)
        controller = proc.controller
        assert controller is not None
        await eventually(lambda: not controller.sessions, 30)
    finally:
        await proc.stop()
    page = await CallRepository(pg_pool).list_page(agent.tenant_id, limit=1)
    assert page.total == total
    assert fake.live_channels() == [] and fake.live_bridges() == []


async def test_dtmf_reaches_an_outbound_rtp_conversation_once(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    """An outbound channel in Stasis is the app's through its trunk's endpoint as well, and
    Asterisk sends its ChannelDtmfReceived twice, alike (22.10.1); each key still counts once."""
    agent = await make_agent(pg_pool)
    proc = Process(
        fake,
        pg_pool,
        redis,
        app="vocals-dtmf-out",
        llm_replies=["You pressed 42."],
        route_media="rtp",
        rtp_pool=RtpPortPool(41800, 41900),
    )
    await proc.start(dispatch=True)
    try:
        await enqueue(redis, agent, "15551240042")
        callee = await asyncio.wait_for(fake.answered.get(), 10)
        await callee.wait_received(800)
        await callee.press("42#")
        await eventually(lambda: len(proc.llms[0].requests) == 1)
        await callee.hangup()
        await eventually(lambda: not fake.live_channels())
    finally:
        await proc.stop()
    [record] = (await CallRepository(pg_pool).list_page(agent.tenant_id)).items
    pressed = [t["text"] for t in record.transcript if t["dtmf"]]
    assert len(pressed) == 1 and "4 2 #" in pressed[0], record.transcript
