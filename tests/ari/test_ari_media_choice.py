"""An agent's own media transport (AudioSocket or RTP) against the process default, end to end
through the fake Asterisk, and an RTP agent on a process that has no RTP ports."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from redis.asyncio import Redis

from ari_app.ports import MediaTransport
from media.rtp import RtpPortPool
from store.repositories.calls import CallRepository
from store.repositories.config import AgentRepository
from tests.ari.harness import Process, Tenancy, eventually, make_agent
from tests.fakes.asterisk import FakeAsterisk
from tests.fakes.asterisk.server import RestCall
from tests.pipeline.memory_leg import silence_pcm, speech_pcm

# What Asterisk's externalMedia is asked for, per transport.
WIRE: dict[MediaTransport, tuple[str, str]] = {
    "audiosocket": ("audiosocket", "tcp"),
    "rtp": ("rtp", "udp"),
}


@pytest.fixture
async def fake() -> AsyncIterator[FakeAsterisk]:
    server = FakeAsterisk()
    await server.start()
    yield server
    await server.stop()


async def _agent(pg_pool: asyncpg.Pool, media: MediaTransport | None) -> Tenancy:
    agent = await make_agent(pg_pool)
    if media is not None:
        await AgentRepository(pg_pool).update(
            agent.tenant_id, agent.agent_id, {"media_transport": media}
        )
    return agent


async def _converse(fake: FakeAsterisk, proc: Process, did: str, index: int) -> None:
    """One call: the welcome reaches the caller, the caller's speech reaches the LLM."""
    caller = await fake.inbound_call(did)
    await caller.wait_received(800)
    caller.play(speech_pcm(600) + silence_pcm(700))
    await eventually(lambda: len(proc.llms) > index and len(proc.llms[index].requests) == 1)
    await caller.hangup()
    await eventually(lambda: not fake.live_channels() and not fake.live_bridges())


def _wire(call: RestCall) -> tuple[str, str]:
    return call.params["encapsulation"], call.params["transport"]


@pytest.mark.parametrize(("default", "chosen"), [("audiosocket", "rtp"), ("rtp", "audiosocket")])
async def test_an_agent_choice_overrides_the_process_default(
    fake: FakeAsterisk,
    pg_pool: asyncpg.Pool,
    redis: Redis,
    default: MediaTransport,
    chosen: MediaTransport,
) -> None:
    chooser = await _agent(pg_pool, chosen)
    follower = await _agent(pg_pool, None)  # no choice: the process default
    proc = Process(
        fake,
        pg_pool,
        redis,
        stt_script=["hello"],
        llm_replies=["Hello there."],
        route_media=default,
        rtp_pool=RtpPortPool(41600, 41700),
    )
    await proc.start()
    try:
        await _converse(fake, proc, chooser.did, 0)
        await _converse(fake, proc, follower.did, 1)
    finally:
        await proc.stop()
    first, second = fake.calls_to("POST", "/channels/externalMedia")
    assert _wire(first) == WIRE[chosen]
    assert _wire(second) == WIRE[default]
    for agent in (chooser, follower):
        [record] = (await CallRepository(pg_pool).list_page(agent.tenant_id)).items
        assert record.error_reason is None, record.error_reason


async def test_an_rtp_agent_without_rtp_ports_fails_only_its_own_call(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    rtp_agent = await _agent(pg_pool, "rtp")
    other = await _agent(pg_pool, None)
    proc = Process(fake, pg_pool, redis, stt_script=["hello"], llm_replies=["Hi."], rtp_pool=None)
    await proc.start()
    try:
        refused = await fake.inbound_call(rtp_agent.did)
        await refused.wait_ended()
        await eventually(lambda: not fake.live_channels() and not fake.live_bridges())
        assert fake.calls_to("POST", "/channels/externalMedia") == []
        # The process goes on taking calls.
        await _converse(fake, proc, other.did, 0)
    finally:
        await proc.stop()
    [failed] = (await CallRepository(pg_pool).list_page(rtp_agent.tenant_id)).items
    assert failed.error_reason is not None and "RTP" in failed.error_reason
    [ok] = (await CallRepository(pg_pool).list_page(other.tenant_id)).items
    assert ok.error_reason is None
    [ext] = fake.calls_to("POST", "/channels/externalMedia")
    assert _wire(ext) == WIRE["audiosocket"]
