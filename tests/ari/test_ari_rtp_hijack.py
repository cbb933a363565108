"""A stranger who sends datagrams to a call's RTP port, end to end through the fake Asterisk:
the agent's audio still goes to Asterisk, the caller is still heard, the stranger gets
nothing and is counted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from redis.asyncio import Redis

from media.rtp import PT_PCMU, RtpPortPool
from tests.ari.harness import Process, eventually, make_agent
from tests.fakes.asterisk import FakeAsterisk
from tests.fakes.rtp_caller import RtpCaller
from tests.pipeline.memory_leg import silence_pcm, speech_pcm

# The stranger's rate: one datagram a millisecond, far more than Asterisk's one per 20 ms.
FLOOD_INTERVAL_S = 0.001


@pytest.fixture
async def fake() -> AsyncIterator[FakeAsterisk]:
    server = FakeAsterisk()
    await server.start()
    yield server
    await server.stop()


async def _flood(stranger: RtpCaller) -> None:
    while True:
        stranger.send_audio(PT_PCMU, b"\x00" * 160, 160)  # full-scale µ-law
        await asyncio.sleep(FLOOD_INTERVAL_S)


async def test_a_stranger_on_the_rtp_port_takes_nothing_and_replaces_nothing(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    agent = await make_agent(pg_pool)
    pool = RtpPortPool(41800, 41900)
    proc = Process(fake, pg_pool, redis, stt_script=["hello"], llm_replies=["Hello there."],
                   route_media="rtp", rtp_pool=pool)  # fmt: skip
    await proc.start()
    flood: asyncio.Task[None] | None = None
    stranger: RtpCaller | None = None
    try:
        caller = await fake.inbound_call(agent.did)
        await eventually(lambda: bool(fake.calls_to("POST", "/channels/externalMedia")))
        [request] = fake.calls_to("POST", "/channels/externalMedia")
        host, _, port = request.params["external_host"].rpartition(":")
        stranger = await RtpCaller.open((host, int(port)))
        flood = asyncio.create_task(_flood(stranger))
        await caller.wait_received(800)  # the welcome reached Asterisk's side
        caller.play(speech_pcm(600) + silence_pcm(700))
        await eventually(lambda: len(proc.llms) == 1 and len(proc.llms[0].requests) == 1)
        await caller.hangup()
        await eventually(lambda: not fake.live_channels() and not fake.live_bridges())
        assert stranger.received == []
        assert pool.stats()["foreign_packets"] > 0
    finally:
        if flood is not None:
            flood.cancel()
        if stranger is not None:
            stranger.close()
        await proc.stop()
