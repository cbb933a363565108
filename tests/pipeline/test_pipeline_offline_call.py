"""A whole call through the pipeline on the offline defaults: the caller's piper speech over
a µ-law leg is recognized by pocketsphinx, answered by the scripted flow, spoken by piper,
and the flow's goodbye ends the call."""

from __future__ import annotations

import asyncio

import pytest

from bench.providers_audio import piper_speech
from media.formats import ULAW_8K
from media.resample import StreamResampler
from pipeline.agent import AgentSettings
from pipeline.engine import CallInfo, CallPipeline, CallProviders
from pipeline.records import CallOutcome
from pipeline.sink import MemorySink
from pipeline.speech_cache import SpeechCache, prewarm_agent
from pipeline.states import CallState
from providers.base import ProviderConfig, TTSProvider
from providers.builtin import load_all
from providers.registry import build
from providers.tts.piper import DEFAULT_SAMPLE_RATE
from tests.pipeline.harness import until
from tests.pipeline.memory_leg import MemoryLeg, silence_pcm

pytestmark = pytest.mark.slow

CALLER_LINES = ["What are your opening hours?", "Thank you very much, goodbye."]


def caller_audio(text: str) -> bytes:
    """Piper speech at the level the pocketsphinx tests use, at the leg's 8 kHz."""
    down = StreamResampler(DEFAULT_SAMPLE_RATE, 8000)
    pcm = piper_speech(text, 0.3)
    return down.process(pcm) + down.flush()


async def test_offline_call_through_the_pipeline() -> None:
    load_all()
    agent = AgentSettings(
        system_prompt="Scripted receptionist.",
        stt=ProviderConfig(vendor="pocketsphinx"),
        llm=ProviderConfig(vendor="scripted"),
        tts=ProviderConfig(vendor="piper"),
        welcome_message="Hello, thanks for calling. How can I help you?",
    )
    providers = CallProviders.for_agent(agent, build)
    cache = SpeechCache()
    warm = build("tts", agent.tts)
    assert isinstance(warm, TTSProvider)
    await warm.connect()
    await prewarm_agent(agent, warm, ULAW_8K, cache)
    await warm.close()
    leg = MemoryLeg(ULAW_8K)
    sink = MemorySink()
    pipeline = CallPipeline(
        call=CallInfo("offline-1", "tenant-test"),
        agent=agent,
        providers=providers,
        leg=leg,
        sink=sink,
        speech_cache=cache,
    )
    leg.start()
    task = asyncio.create_task(pipeline.run())
    await until(lambda: pipeline.state is CallState.LISTENING, wait_s=20, what="welcome")

    def answered(after: int) -> bool:
        return sum(e.role == "agent" for e in sink.transcript) > after or task.done()

    for n, line in enumerate(CALLER_LINES, start=1):
        leg.say(caller_audio(line) + silence_pcm(800))
        await until(lambda: answered(n), wait_s=60, what=line)  # noqa: B023 (awaited here)
    result = await asyncio.wait_for(task, 30)
    said = [e.text for e in result.transcript if e.role == "agent"]
    assert result.outcome is CallOutcome.AGENT_ENDED, result
    assert said[1].startswith("We're open nine in the morning"), result.transcript
    assert "goodbye" in said[2].lower()
    assert "[END_CALL]" not in " ".join(said)
    for turn in result.turns[1:]:
        assert turn.first_frame_out_ms is not None and turn.stt_final_ms is not None
