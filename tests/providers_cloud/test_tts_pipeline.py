"""Simulated calls whose agent speaks through a cloud TTS provider talking to its vendor's fake.

The happy path: the reply is synthesized over the vendor protocol and played to the caller. A
connection cut mid-sentence raises `ProviderError` into the pipeline's failure path: the
failure is recorded with the vendor, not retried (the caller heard the start), what arrived is
played and the call goes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from media.formats import SLIN_8K
from pipeline.engine import CallInfo, CallPipeline, CallProviders
from pipeline.records import CallOutcome, CallResult
from pipeline.sink import MemorySink
from pipeline.speech_cache import SpeechCache, prewarm_agent
from pipeline.states import CallState
from providers import builtin
from providers.base import ProviderConfig, TTSProvider
from providers.registry import build
from tests.fakes.deepgram_tts import FakeDeepgramTTS
from tests.fakes.fake_providers import FakeLLM, FakeSTT
from tests.fakes.qwen_tts import FakeQwenTTS
from tests.fakes.tts_server import FakeTTSServer
from tests.pipeline.harness import FAST_TIMEOUTS, agent_settings, until
from tests.pipeline.memory_leg import MemoryLeg, speech_pcm

REPLY = "Hello there."


@pytest.fixture(scope="module", autouse=True)
def _builtins() -> None:
    builtin.load_all()


@pytest.fixture(params=["deepgram", "qwen"])
async def vendor_fake(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, FakeTTSServer]]:
    vendor: str = request.param
    server: FakeTTSServer = FakeDeepgramTTS() if vendor == "deepgram" else FakeQwenTTS()
    server.chunk_delay = 0.01
    await server.start()
    yield vendor, server
    await server.stop()


def cloud_tts(vendor: str, fake: FakeTTSServer) -> TTSProvider:
    config = ProviderConfig(
        vendor=vendor,
        api_key=fake.api_key,
        options={"base_url": fake.base_url, "read_timeout": 2.0},
    )
    provider = build("tts", config)
    assert isinstance(provider, TTSProvider)
    return provider


async def one_turn(
    vendor: str, fake: FakeTTSServer, *, cut_reply: bool
) -> tuple[CallResult, MemoryLeg]:
    """Pre-warm the apology, let the caller say something, hear the reply, hang up."""
    agent = agent_settings(tts=ProviderConfig(vendor=vendor, api_key=fake.api_key))
    cache = SpeechCache()
    warm = cloud_tts(vendor, fake)
    try:
        await prewarm_agent(agent, warm, SLIN_8K, cache)
    finally:
        await warm.close()
    fake.disconnect_after = 1 if cut_reply else None
    leg = MemoryLeg(SLIN_8K)
    sink = MemorySink()
    pipeline = CallPipeline(
        call=CallInfo(call_id=f"call-{vendor}-{cut_reply}", tenant_id="tenant-test"),
        agent=agent,
        providers=CallProviders(
            FakeSTT(script=["hi"]), FakeLLM(replies=[REPLY]), cloud_tts(vendor, fake)
        ),
        leg=leg,
        sink=sink,
        speech_cache=cache,
        timeouts=FAST_TIMEOUTS,
    )
    leg.start()
    running = asyncio.create_task(pipeline.run())
    leg.say(speech_pcm(500, SLIN_8K.sample_rate))
    # A reply cut before a word was heard leaves nothing in the history: its failure shows it.
    await until(
        lambda: (
            len(pipeline.history) >= 2
            or any(event.kind == "provider.failed" for event in sink.events)
        ),
        what="reply",
    )
    await until(lambda: pipeline.state is CallState.LISTENING, what="reply played")
    leg.caller_hangup()
    return await asyncio.wait_for(running, 10), leg


async def test_reply_is_spoken_through_the_vendor(vendor_fake: tuple[str, FakeTTSServer]) -> None:
    vendor, fake = vendor_fake
    result, leg = await one_turn(vendor, fake, cut_reply=False)
    assert result.transcript[-1].text == REPLY
    assert leg.agent_ms > 0
    assert not [event for event in result.events if event.kind == "provider.failed"]


async def test_cut_mid_sentence_is_a_recorded_failure_not_a_dropped_call(
    vendor_fake: tuple[str, FakeTTSServer],
) -> None:
    vendor, fake = vendor_fake
    result, leg = await one_turn(vendor, fake, cut_reply=True)
    (failure,) = [event.detail for event in result.events if event.kind == "provider.failed"]
    assert failure["vendor"] == vendor
    assert failure["provider_kind"] == "tts"
    assert failure["retried"] == "false"  # the caller already heard the start
    # What arrived before the cut was played, the rest of the sentence is lost.
    assert 0 < leg.agent_ms < fake.seconds * 1000
    assert result.outcome is CallOutcome.CALLER_HUNG_UP
