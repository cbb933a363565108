"""One call on the offline defaults through the pipeline, with per-turn latency.

The caller's lines are piper speech on a µ-law 8 kHz leg; pocketsphinx hears them, the
scripted flow answers, piper speaks. Prints, per turn, the milliseconds from the end of the
caller's speech to each stage (STT final, LLM first token, first sentence, TTS first audio,
first frame out), and the greeting's first frame after the leg came up.

Run: ``uv run --frozen --no-sync python -m bench.pipeline_offline_call``
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import structlog

from bench.providers_audio import piper_speech
from media.formats import ULAW_8K
from media.resample import StreamResampler
from pipeline.agent import AgentSettings
from pipeline.engine import CallInfo, CallPipeline, CallProviders
from pipeline.records import CallResult
from pipeline.sink import MemorySink
from pipeline.speech_cache import SpeechCache, prewarm_agent
from pipeline.states import CallState
from providers.base import ProviderConfig, TTSProvider
from providers.builtin import load_all
from providers.registry import build
from providers.tts.piper import DEFAULT_SAMPLE_RATE
from tests.pipeline.memory_leg import MemoryLeg, silence_pcm

CALLER_LINES = [
    "What are your opening hours?",
    "How much is a haircut?",
    "Where are you located?",
    "Thank you very much, goodbye.",
]
STAGES = ("stt_final", "llm_first_token", "first_sentence", "tts_first_audio", "first_frame_out")


def caller_audio(text: str) -> bytes:
    down = StreamResampler(DEFAULT_SAMPLE_RATE, 8000)
    pcm = piper_speech(text, 0.3)
    return down.process(pcm) + down.flush()


async def wait_for(condition: Callable[[], bool], deadline_s: float) -> None:
    """Poll `condition` every 20 ms (the sink is a plain MemorySink, it signals nothing)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if condition():
            return
        await asyncio.sleep(0.02)


async def call() -> tuple[CallResult, float]:
    load_all()
    agent = AgentSettings(
        system_prompt="Scripted receptionist.",
        stt=ProviderConfig(vendor="pocketsphinx"),
        llm=ProviderConfig(vendor="scripted"),
        tts=ProviderConfig(vendor="piper"),
        welcome_message="Hello, thanks for calling. How can I help you?",
    )
    cache = SpeechCache()
    warm = build("tts", agent.tts)
    assert isinstance(warm, TTSProvider)
    await warm.connect()
    await prewarm_agent(agent, warm, ULAW_8K, cache)
    await warm.close()
    audio = [caller_audio(line) + silence_pcm(800) for line in CALLER_LINES]
    leg = MemoryLeg(ULAW_8K)
    sink = MemorySink()
    pipeline = CallPipeline(
        call=CallInfo("offline-bench", "bench"),
        agent=agent,
        providers=CallProviders.for_agent(agent, build),
        leg=leg,
        sink=sink,
        speech_cache=cache,
    )
    await pipeline.prepare()  # as the controller does while Asterisk sets up the media
    leg.start()
    up = time.monotonic()
    task = asyncio.create_task(pipeline.run())
    await wait_for(lambda: pipeline.state is CallState.LISTENING, 30)
    for n, pcm in enumerate(audio, start=1):
        leg.say(pcm)
        await wait_for(
            lambda n=n: sum(e.role == "agent" for e in sink.transcript) > n or task.done(),  # type: ignore[misc]
            60,
        )
    result = await asyncio.wait_for(task, 30)
    greeting = leg.agent_frames()[0][0] - up
    return result, greeting


def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    result, greeting = asyncio.run(call())
    print(f"outcome {result.outcome}; greeting first frame {greeting * 1000:.0f} ms after leg up")
    print("turn  " + "  ".join(f"{s:>15}" for s in STAGES) + "   (ms after end of speech)")
    caller = [e.text for e in result.transcript if e.role == "caller"]
    for turn, heard in zip(result.turns[1:], caller, strict=False):
        base = turn.end_of_speech_ms or 0
        cells = []
        for stage in STAGES:
            at = getattr(turn, f"{stage}_ms")
            cells.append(f"{at - base:>15}" if at is not None else f"{'-':>15}")
        print(f"{turn.index:>4}  " + "  ".join(cells) + f"   heard: {heard!r}")


if __name__ == "__main__":
    main()
