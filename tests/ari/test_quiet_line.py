"""A far end that sends no audio while it is quiet, as Asterisk's AudioSocket does without
`transmit_silence` (captured on 22.10.1; the fake Asterisk does the same): the caller's
speech ends on Vocals' own clock, and a long quiet does not end the call."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Final

import asyncpg
import pytest
from redis.asyncio import Redis

from store.repositories.calls import CallRepository
from tests.ari.harness import Process, eventually, make_agent
from tests.fakes.asterisk import FakeAsterisk
from tests.fakes.asterisk.caller import ScriptedCaller
from tests.pipeline.harness import agent_settings
from tests.pipeline.memory_leg import speech_pcm

SPEECH_MS: Final = 800
# The harness agent's end-of-speech silence.
END_OF_SPEECH_S: Final = (agent_settings().end_of_speech_ms or 0) / 1000
# Room for the fake's pacing, the recognizer's grace and a loaded machine; without Vocals'
# own clock the answer never comes at all.
MARGIN_S: Final = 3.0
# Longer than the AudioSocket read timeout that used to hang quiet callers up (30 s).
LONG_QUIET_S: Final = 32.0


@pytest.fixture
async def fake() -> AsyncIterator[FakeAsterisk]:
    server = FakeAsterisk()
    await server.start()
    yield server
    await server.stop()


async def _say_then_nothing(caller: ScriptedCaller, proc: Process, asked_before: int) -> float:
    """Once the agent is quiet, speech and then no frames at all; seconds from the speech's
    last frame to the LLM's request."""
    await caller.wait_quiet(timeout_s=20)
    caller.play(speech_pcm(SPEECH_MS))
    said_at = time.monotonic()
    await eventually(lambda: len(proc.llms[0].requests) > asked_before, timeout_s=20)
    return time.monotonic() - (said_at + SPEECH_MS / 1000)


async def test_a_caller_who_goes_quiet_without_frames_is_answered(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    agent = await make_agent(pg_pool)
    proc = Process(
        fake, pg_pool, redis, stt_script=["I would like a table"], llm_replies=["For how many?"]
    )
    await proc.start()
    try:
        caller = await fake.inbound_call(agent.did)
        await asyncio.wait_for(caller.answered.wait(), 5)
        await caller.wait_received(500)  # the welcome reached the caller
        waited_s = await _say_then_nothing(caller, proc, 0)
        assert waited_s < END_OF_SPEECH_S + MARGIN_S
        heard = caller.received_ms
        await caller.wait_received(heard + 500)  # and the reply reached the caller
        await caller.hangup()
        await eventually(lambda: not fake.live_channels())
    finally:
        await proc.stop()
    [record] = (await CallRepository(pg_pool).list_page(agent.tenant_id)).items
    texts = [(t["role"], t["text"]) for t in record.transcript]
    assert ("caller", "I would like a table") in texts and ("agent", "For how many?") in texts


async def test_a_caller_quiet_for_long_is_not_hung_up(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    agent = await make_agent(pg_pool)
    proc = Process(
        fake,
        pg_pool,
        redis,
        stt_script=["I would like a table", "four people"],
        llm_replies=["For how many?", "Booked."],
    )
    await proc.start()
    try:
        caller = await fake.inbound_call(agent.did)
        await asyncio.wait_for(caller.answered.wait(), 5)
        await caller.wait_received(500)
        await _say_then_nothing(caller, proc, 0)
        await caller.wait_received(caller.received_ms + 500)  # the reply reached the caller
        await caller.wait_quiet(timeout_s=20)
        await asyncio.sleep(LONG_QUIET_S)  # thinking it over, not a frame sent
        assert not caller.ended.is_set()
        await _say_then_nothing(caller, proc, 1)
        await caller.hangup()
        await eventually(lambda: not fake.live_channels())
    finally:
        await proc.stop()
    [record] = (await CallRepository(pg_pool).list_page(agent.tenant_id)).items
    assert record.outcome == "caller_hung_up" and record.error_reason is None
    assert ("caller", "four people") in [(t["role"], t["text"]) for t in record.transcript]
