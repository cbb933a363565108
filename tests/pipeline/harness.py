"""Builds a call for pipeline tests: fake providers, a `MemoryLeg`, a `MemorySink`."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from media.formats import SLIN_8K, AudioFormat
from media.vad import BargeInSensitivity
from pipeline.agent import AgentSettings
from pipeline.engine import CallInfo, CallPipeline, CallProviders
from pipeline.records import CallResult
from pipeline.sink import MemorySink
from pipeline.speech_cache import SpeechCache, prewarm_agent
from pipeline.states import Timeouts
from providers.base import ProviderConfig
from tests.fakes.fake_providers import FakeLLM, FakeSTT, FakeTTS
from tests.pipeline.memory_leg import MemoryLeg, silence_pcm, speech_pcm

_ids = itertools.count(1)

# Short guards so failure paths finish quickly in tests.
FAST_TIMEOUTS = Timeouts(
    provider_connect_s=1.0,
    llm_first_token_s=0.5,
    llm_idle_s=0.5,
    tts_first_audio_s=0.5,
    tts_idle_s=0.5,
    stt_final_grace_s=0.3,
    dtmf_collect_s=0.3,
    mark_grace_s=1.0,
    shutdown_s=1.0,
    voicemail_beep_s=5.0,
    voicemail_quiet_s=0.6,
)


def agent_settings(**overrides: Any) -> AgentSettings:
    """An agent with quick turn-taking and barge-in at speech onset unless overridden."""
    fields: dict[str, Any] = {
        "system_prompt": "You are a helpful test agent.",
        "stt": ProviderConfig(vendor="fake"),
        "llm": ProviderConfig(vendor="fake"),
        "tts": ProviderConfig(vendor="fake", voice="tone"),
        "barge_in": BargeInSensitivity.HIGH,
        "end_of_speech_ms": 300,
    }
    fields.update(overrides)
    return AgentSettings(**fields)


@dataclass
class Call:
    leg: MemoryLeg
    pipeline: CallPipeline
    sink: MemorySink
    stt: FakeSTT
    llm: FakeLLM
    tts: FakeTTS
    providers: CallProviders
    cache: SpeechCache = field(default_factory=SpeechCache)
    task: asyncio.Task[CallResult] | None = None
    started: float = field(default_factory=time.monotonic)

    async def start(self, *, prewarm: bool = True) -> None:
        """Pre-warm the fixed speech (as the controller does, with its own TTS instance),
        bring the leg up and run the pipeline."""
        if prewarm:
            warm_tts = FakeTTS(vendor=self.tts.vendor, voice=self.tts.config.voice or "")
            await prewarm_agent(self.pipeline.agent, warm_tts, self.leg.format, self.cache)
        self.leg.start()
        self.started = time.monotonic()
        self.task = asyncio.create_task(self.pipeline.run())

    def speak(self, ms: int, then_silence_ms: int = 0) -> None:
        """The caller talks for `ms` (speech-like audio), then is silent."""
        rate = self.leg.format.sample_rate
        self.leg.say(speech_pcm(ms, rate) + silence_pcm(then_silence_ms, rate))

    async def result(self, wait_s: float = 10.0) -> CallResult:
        assert self.task is not None
        return await asyncio.wait_for(asyncio.shield(self.task), wait_s)

    async def end(self) -> CallResult:
        """Hang up as the caller and get the record."""
        self.leg.caller_hangup()
        return await self.result()


def make_call(
    *,
    agent: AgentSettings | None = None,
    stt: FakeSTT | None = None,
    llm: FakeLLM | None = None,
    tts: FakeTTS | None = None,
    stt_fallback: FakeSTT | None = None,
    llm_fallback: FakeLLM | None = None,
    tts_fallback: FakeTTS | None = None,
    fmt: AudioFormat = SLIN_8K,
    cache: SpeechCache | None = None,
    timeouts: Timeouts = FAST_TIMEOUTS,
    direction: Literal["inbound", "outbound"] = "inbound",
) -> Call:
    stt = stt or FakeSTT()
    llm = llm or FakeLLM()
    tts = tts or FakeTTS()
    providers = CallProviders(stt, llm, tts, stt_fallback, llm_fallback, tts_fallback)
    leg = MemoryLeg(fmt)
    sink = MemorySink()
    cache = cache or SpeechCache()
    n = next(_ids)
    pipeline = CallPipeline(
        call=CallInfo(call_id=f"call-{n}", tenant_id="tenant-test", direction=direction),
        agent=agent or agent_settings(),
        providers=providers,
        leg=leg,
        sink=sink,
        speech_cache=cache,
        timeouts=timeouts,
    )
    return Call(leg, pipeline, sink, stt, llm, tts, providers, cache)


async def until(condition: Callable[[], bool], wait_s: float = 5.0, what: str = "") -> None:
    """Wait until `condition()` holds (polled every 10 ms)."""
    deadline = time.monotonic() + wait_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await asyncio.sleep(0.01)
