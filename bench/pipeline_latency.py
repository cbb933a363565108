"""Latency the turn engine adds, under concurrency.

For 1, 50 and 200 concurrent calls (in-memory legs on one shared 20 ms ticker, fake providers
with fixed latency, uvloop) it measures:

- turn overhead: STT final -> first frame handed to the leg, minus the fake LLM's first-token
  and the fake TTS's first-audio latency (target <= 10 ms p99);
- barge-in reaction: caller speech onset -> the last agent frame put on the wire
  (target <= 150 ms p99; includes the VAD's own minimum speech for the sensitivity);
- greeting: leg up -> first welcome frame on the wire, welcome pre-warmed (target <= 300 ms).

Run: ``uv run --frozen --no-sync python -m bench.pipeline_latency [--calls 1 50 200]``
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import statistics
import time
from dataclasses import dataclass, field

import structlog
import uvloop

from media.formats import FRAME_MS, SLIN_8K
from media.pacer import FrameTicker
from media.vad import BargeInSensitivity
from pipeline.agent import AgentSettings
from pipeline.engine import CallInfo, CallPipeline, CallProviders
from pipeline.records import TranscriptEntry, TurnMetrics
from pipeline.sink import MemorySink
from pipeline.speech_cache import SpeechCache, prewarm_agent
from providers.base import ProviderConfig
from tests.fakes.fake_providers import FakeLLM, FakeSTT, FakeTTS
from tests.pipeline.memory_leg import MemoryLeg, silence_pcm, speech_pcm

LLM_FIRST_TOKEN_S = 0.2
TTS_FIRST_AUDIO_S = 0.1
TURNS_PER_CALL = 3
WELCOME = "Thanks for calling the benchmark line. How can I help?"
SHORT_REPLY = "Sure, that is done. Anything else?"
LONG_REPLY = (
    "Let me explain this in some detail, because it takes a while. "
    "There is a first part, and then a second part that goes on and on. "
    "Finally a third part that the caller will never hear."
)


class BenchSink(MemorySink):
    """Signals finished turns and caller transcripts to the driving coroutine."""

    def __init__(self) -> None:
        super().__init__()
        self.turn_done: asyncio.Queue[TurnMetrics] = asyncio.Queue()
        self.caller_said: asyncio.Queue[TranscriptEntry] = asyncio.Queue()

    async def on_turn(self, metrics: TurnMetrics) -> None:
        await super().on_turn(metrics)
        self.turn_done.put_nowait(metrics)

    async def on_transcript(self, entry: TranscriptEntry) -> None:
        await super().on_transcript(entry)
        if entry.role == "caller":
            self.caller_said.put_nowait(entry)


@dataclass
class Samples:
    overhead_ms: list[float] = field(default_factory=list)
    barge_in_ms: list[float] = field(default_factory=list)
    greeting_ms: list[float] = field(default_factory=list)
    failed_calls: int = 0
    cpu_s: float = 0.0
    wall_s: float = 0.0


def agent(sensitivity: BargeInSensitivity) -> AgentSettings:
    return AgentSettings(
        system_prompt="Benchmark agent.",
        stt=ProviderConfig(vendor="fake"),
        llm=ProviderConfig(vendor="fake"),
        tts=ProviderConfig(vendor="fake", voice="tone"),
        welcome_message=WELCOME,
        barge_in=sensitivity,
        end_of_speech_ms=300,
    )


async def one_call(
    n: int, settings: AgentSettings, ticker: FrameTicker, cache: SpeechCache, out: Samples
) -> None:
    replies = [SHORT_REPLY] * TURNS_PER_CALL + [LONG_REPLY, SHORT_REPLY]
    script = [f"request number {i}" for i in range(len(replies))]
    leg = MemoryLeg(SLIN_8K, ticker=ticker)
    sink = BenchSink()
    pipeline = CallPipeline(
        call=CallInfo(call_id=f"bench-{n}", tenant_id="bench"),
        agent=settings,
        providers=CallProviders(
            FakeSTT(script=script),
            FakeLLM(replies=replies, first_token_s=LLM_FIRST_TOKEN_S),
            FakeTTS(first_audio_s=TTS_FIRST_AUDIO_S),
        ),
        leg=leg,
        sink=sink,
        speech_cache=cache,
    )
    leg.start()
    up = time.monotonic()
    task = asyncio.create_task(pipeline.run())
    try:
        await asyncio.wait_for(sink.turn_done.get(), 30)  # the greeting played
        frames = leg.agent_frames()
        if frames:
            out.greeting_ms.append((frames[0][0] - up) * 1000)
        provider_ms = (LLM_FIRST_TOKEN_S + TTS_FIRST_AUDIO_S) * 1000
        for _ in range(TURNS_PER_CALL):
            leg.say(speech_pcm(600) + silence_pcm(100))
            await asyncio.wait_for(sink.caller_said.get(), 30)
            turn = await asyncio.wait_for(sink.turn_done.get(), 30)
            if turn.first_frame_out_ms is not None and turn.stt_final_ms is not None:
                out.overhead_ms.append(turn.first_frame_out_ms - turn.stt_final_ms - provider_ms)
        leg.say(speech_pcm(600))
        await asyncio.wait_for(sink.caller_said.get(), 30)
        await asyncio.sleep(provider_ms / 1000 + 0.8)  # the long reply is playing
        asked = time.monotonic()
        leg.say(speech_pcm(700))
        interrupted = await asyncio.wait_for(sink.turn_done.get(), 30)
        onset = next(t for t in leg.caller_frames if t > asked) - FRAME_MS / 1000
        last = max(t for t, _ in leg.agent_frames() if t < onset + 1.0)
        if interrupted.interrupted:
            out.barge_in_ms.append((last - onset) * 1000)
        else:
            out.failed_calls += 1
        await asyncio.wait_for(sink.turn_done.get(), 30)
    except TimeoutError:
        out.failed_calls += 1
    finally:
        leg.caller_hangup()
        await task


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(concurrency: int, sensitivity: BargeInSensitivity) -> Samples:
    settings = agent(sensitivity)
    cache = SpeechCache()
    await prewarm_agent(settings, FakeTTS(), SLIN_8K, cache)
    ticker = FrameTicker()
    out = Samples()
    rng = random.Random(concurrency)

    async def staggered(n: int) -> None:
        await asyncio.sleep(rng.uniform(0, 1.0) if concurrency > 1 else 0)
        await one_call(n, settings, ticker, cache, out)

    cpu = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.monotonic()
    await asyncio.gather(*(staggered(n) for n in range(concurrency)))
    after = resource.getrusage(resource.RUSAGE_SELF)
    out.cpu_s = after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime
    out.wall_s = time.monotonic() - wall
    return out


def report(concurrency: int, s: Samples) -> None:
    def line(name: str, values: list[float], target: str) -> str:
        return (
            f"  {name:<34} n={len(values):<4} p50={statistics.median(values) if values else 0:7.1f}"
            f"  p99={pct(values, 0.99):7.1f}  max={max(values, default=0):7.1f} ms  ({target})"
        )

    print(
        f"{concurrency} concurrent calls (failed: {s.failed_calls}); process CPU "
        f"{s.cpu_s / s.wall_s * 100:.0f}% of one core over {s.wall_s:.1f} s"
    )
    print(line("turn overhead (final->frame out)", s.overhead_ms, "target p99 <= 10"))
    print(line("barge-in (onset->last frame)", s.barge_in_ms, "target p99 <= 150"))
    print(line("greeting (leg up->first frame)", s.greeting_ms, "target <= 300"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, nargs="+", default=[1, 50, 200])
    parser.add_argument(
        "--sensitivity",
        type=BargeInSensitivity,
        default=BargeInSensitivity.HIGH,
        choices=list(BargeInSensitivity),
    )
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    print(
        f"fake LLM first token {LLM_FIRST_TOKEN_S * 1000:.0f} ms, fake TTS first audio "
        f"{TTS_FIRST_AUDIO_S * 1000:.0f} ms, barge-in sensitivity {args.sensitivity}"
    )
    for concurrency in args.calls:
        samples = uvloop.run(run(concurrency, args.sensitivity))
        report(concurrency, samples)


if __name__ == "__main__":
    main()
