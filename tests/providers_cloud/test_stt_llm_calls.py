"""Simulated calls through the pipeline with each cloud STT and each cloud LLM talking to its
vendor's fake, and the failure path when a cloud STT drops mid-call."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from media.formats import SLIN_8K
from pipeline.engine import CallInfo, CallPipeline, CallProviders
from pipeline.records import CallOutcome, CallResult
from pipeline.sink import MemorySink
from pipeline.speech_cache import SpeechCache, prewarm_agent
from pipeline.states import CallState
from providers import builtin
from providers.base import LLMProvider, ProviderConfig, ProviderKind, STTProvider
from providers.registry import build
from tests.fakes.anthropic_messages import FakeAnthropic
from tests.fakes.dashscope_asr import FakeDashScopeASR
from tests.fakes.deepgram_listen import FakeDeepgram
from tests.fakes.elevenlabs_stt import FakeElevenLabsSTT
from tests.fakes.fake_providers import FakeLLM, FakeSTT, FakeTTS
from tests.fakes.fish_audio_asr import FakeFishAudio
from tests.fakes.gemini_generate import FakeGemini
from tests.fakes.moonshot_chat import FakeMoonshot
from tests.fakes.openai_compatible import FakeOpenAI
from tests.fakes.openai_realtime import FakeOpenAIAudio
from tests.fakes.whisper_transcriptions import FakeTranscriptionServer
from tests.pipeline.harness import FAST_TIMEOUTS, agent_settings, until
from tests.pipeline.memory_leg import MemoryLeg, silence_pcm, speech_pcm

STT_FAKES: dict[str, Callable[[], Any]] = {
    "deepgram": FakeDeepgram,
    "openai": FakeOpenAIAudio,
    "whisper": FakeTranscriptionServer,
    "elevenlabs": FakeElevenLabsSTT,
    "qwen": FakeDashScopeASR,
    "fish_audio": FakeFishAudio,
}
LLM_FAKES: dict[str, Callable[[], Any]] = {
    "openai": FakeOpenAI,
    "kimi": FakeMoonshot,
    "claude": FakeAnthropic,
    "gemini": FakeGemini,
}
REPLY = "Of course, see you then."


@pytest.fixture(scope="module", autouse=True)
def _builtins() -> None:
    builtin.load_all()


@pytest.fixture(params=sorted(STT_FAKES))
async def stt_fake(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, Any]]:
    fake = STT_FAKES[request.param]()
    await fake.start()
    yield request.param, fake
    await fake.stop()


@pytest.fixture(params=sorted(LLM_FAKES))
async def llm_fake(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, Any]]:
    fake = LLM_FAKES[request.param]()
    fake.reply = REPLY
    await fake.start()
    yield request.param, fake
    await fake.stop()


def config(vendor: str, fake: Any, **options: Any) -> ProviderConfig:
    return ProviderConfig(
        vendor=vendor, api_key=fake.api_key, options={"base_url": fake.base_url, **options}
    )


def cloud_stt(vendor: str, fake: Any) -> STTProvider:
    provider = build(ProviderKind.STT, config(vendor, fake))
    assert isinstance(provider, STTProvider)
    return provider


def cloud_llm(vendor: str, fake: Any) -> LLMProvider:
    provider = build(ProviderKind.LLM, config(vendor, fake))
    assert isinstance(provider, LLMProvider)
    return provider


async def run_call(
    providers: CallProviders,
    *,
    speech_ms: int = 800,
    silence_ms: int = 600,
    wait_for_reply: bool = True,
) -> CallResult:
    """The caller says something; once the agent has answered (or the call ended), hang up."""
    agent = agent_settings(
        stt=ProviderConfig(vendor=providers.stt.vendor),
        llm=ProviderConfig(vendor=providers.llm.vendor),
    )
    cache = SpeechCache()
    await prewarm_agent(agent, FakeTTS(), SLIN_8K, cache)
    leg = MemoryLeg(SLIN_8K)
    pipeline = CallPipeline(
        call=CallInfo(
            call_id=f"call-{providers.stt.vendor}-{providers.llm.vendor}", tenant_id="tenant-test"
        ),
        agent=agent,
        providers=providers,
        leg=leg,
        sink=MemorySink(),
        speech_cache=cache,
        timeouts=FAST_TIMEOUTS,
    )
    leg.start()
    running = asyncio.create_task(pipeline.run())
    rate = SLIN_8K.sample_rate
    leg.say(speech_pcm(speech_ms, rate) + silence_pcm(silence_ms, rate))
    if wait_for_reply:
        await until(lambda: len(pipeline.history) >= 2, wait_s=8, what="agent reply")
        await until(lambda: pipeline.state is CallState.LISTENING, what="reply played")
        leg.caller_hangup()
    return await asyncio.wait_for(running, 10)


def usage_of(result: CallResult, kind: ProviderKind) -> Any:
    (record,) = [r for r in result.provider_usage if r.kind == kind and not r.fallback]
    return record


async def test_call_through_each_cloud_stt(stt_fake: tuple[str, Any]) -> None:
    vendor, fake = stt_fake
    stt = cloud_stt(vendor, fake)
    result = await run_call(CallProviders(stt, FakeLLM(replies=[REPLY]), FakeTTS()))
    caller = [entry.text for entry in result.transcript if entry.role == "caller"]
    agent = [entry.text for entry in result.transcript if entry.role == "agent"]
    assert caller and caller[0]
    assert agent == [REPLY]
    assert result.outcome is CallOutcome.CALLER_HUNG_UP
    assert not [e for e in result.events if e.kind == "provider.failed"]
    record = usage_of(result, ProviderKind.STT)
    assert record.vendor == vendor
    assert record.usage.audio_seconds > 0


async def test_deepgram_utterance_end_answers_a_caller_the_vad_never_hears_stop() -> None:
    """A line whose noise the VAD takes for speech from start to end: Deepgram's UtteranceEnd,
    a second after the caller's last word, ends the turn and the agent answers while the
    noise goes on (without it, the turn would wait for the line to go quiet), and the noise,
    which has no words, does not cut the answer off."""
    noisy_line_ms = 5000  # the script's words (1.2 s) and the 1 s gap fit well inside
    fake = FakeDeepgram(script_once=True)
    await fake.start()
    try:
        stt = cloud_stt("deepgram", fake)
        result = await run_call(
            CallProviders(stt, FakeLLM(replies=[REPLY] * 3), FakeTTS()),
            speech_ms=noisy_line_ms,
            silence_ms=0,
        )
    finally:
        await fake.stop()
    assert fake.sessions[-1].body["utterance_end_ms"] == "1000"
    first = next(turn for turn in result.turns if turn.index == 1)
    assert first.llm_first_token_ms is not None
    assert first.llm_first_token_ms < noisy_line_ms
    assert [e for e in result.events if e.kind == "stt.utterance_end"]
    caller = [entry.text for entry in result.transcript if entry.role == "caller"]
    assert caller == [fake.transcript]
    assert [entry.text for entry in result.transcript if entry.role == "agent"] == [REPLY]
    assert not first.interrupted


async def test_call_through_each_cloud_llm(llm_fake: tuple[str, Any]) -> None:
    vendor, fake = llm_fake
    llm = cloud_llm(vendor, fake)
    result = await run_call(CallProviders(FakeSTT(script=["Can I come at five?"]), llm, FakeTTS()))
    agent = [entry.text for entry in result.transcript if entry.role == "agent"]
    assert agent == [REPLY]
    record = usage_of(result, ProviderKind.LLM)
    assert record.vendor == vendor
    assert record.usage.requests == 1
    assert record.usage.output_tokens > 0


async def test_stt_dropping_mid_call_ends_with_the_apology() -> None:
    fake = FakeDeepgram(drop_after_bytes=4000)
    await fake.start()
    try:
        stt = cloud_stt("deepgram", fake)
        result = await run_call(
            CallProviders(stt, FakeLLM(replies=[REPLY]), FakeTTS()), wait_for_reply=False
        )
    finally:
        await fake.stop()
    assert result.outcome is CallOutcome.ERROR
    assert result.error_reason == "speech recognition failed"
    (failure,) = [e.detail for e in result.events if e.kind == "provider.failed"]
    assert failure["vendor"] == "deepgram"
    assert failure["provider_kind"] == "stt"


async def test_stt_dropping_mid_call_moves_to_the_fallback() -> None:
    fake = FakeElevenLabsSTT(drop_after_bytes=4000)
    await fake.start()
    try:
        stt = cloud_stt("elevenlabs", fake)
        fallback = FakeSTT(script=["I'd like a haircut."])
        result = await run_call(
            CallProviders(stt, FakeLLM(replies=[REPLY]), FakeTTS(), stt_fallback=fallback),
            speech_ms=2000,
        )
    finally:
        await fake.stop()
    assert result.outcome is CallOutcome.CALLER_HUNG_UP
    assert [e.text for e in result.transcript if e.role == "agent"] == [REPLY]
    (failure,) = [e.detail for e in result.events if e.kind == "provider.failed"]
    assert failure["vendor"] == "elevenlabs"
