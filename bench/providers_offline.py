"""Latency and CPU cost of the offline default providers on this machine.

    uv run --frozen --no-sync python -m bench.providers_offline [--runs N]

Prints medians and p90 of: pocketsphinx decoder start-up, the wait for the final after end
of speech (re-decoded for a call's first utterance, streaming after) and CPU per second of
call audio; piper's time to first audio per sentence and synthesis speed; the scripted
LLM's reply time; the VAD engines' per-frame cost. The machine is shared, so treat the
figures as upper bounds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable

from bench.providers_audio import telephone_speech
from media.formats import FRAME_MS
from media.vad import VAD_PROFILES, BargeInSensitivity
from providers.base import Message, ProviderConfig
from providers.llm.scripted import ScriptedLLM
from providers.stt.pocketsphinx import REDECODE_FIRST, PocketsphinxSTT
from providers.tts.piper import PiperTTS
from providers.vad.silero import create_vad

UTTERANCE = "I would like to book an appointment for tomorrow morning."
SENTENCE = "We're open nine in the morning to six in the evening, Monday to Saturday."
FRAME_16K = 640


def summary(label: str, values: list[float], unit: str = "ms", scale: float = 1000.0) -> None:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    print(
        f"{label:52} median {statistics.median(values) * scale:8.1f} {unit}"
        f"   p90 {p90 * scale:8.1f} {unit}   (n={len(values)})"
    )


async def stt_call(audio: bytes, utterances: int) -> tuple[float, list[float]]:
    """One call: (decoder start-up s, [end of speech -> final s, per utterance]).

    Audio goes in at real time in 20 ms frames, as from a phone line.
    """
    started = time.perf_counter()
    stt = PocketsphinxSTT(ProviderConfig(vendor="pocketsphinx"))
    await stt.connect()
    connect_s = time.perf_counter() - started
    results = stt.transcripts()
    waits = []
    for _ in range(utterances):
        next_frame = time.perf_counter()
        for start in range(0, len(audio), FRAME_16K):
            await stt.send_audio(audio[start : start + FRAME_16K])
            next_frame += FRAME_MS / 1000
            await asyncio.sleep(max(0.0, next_frame - time.perf_counter()))
        ended = time.perf_counter()
        await stt.end_utterance()
        async for result in results:
            if result.is_final:
                break
        waits.append(time.perf_counter() - ended)
    await stt.close()
    return connect_s, waits


async def bench_stt(runs: int, concurrency: list[int]) -> None:
    audio = bytes(FRAME_16K * 15) + telephone_speech(UTTERANCE, 0.3) + bytes(FRAME_16K * 30)
    utterances = REDECODE_FIRST + 1
    seconds = len(audio) / 32000
    print(f"pocketsphinx, calls of {utterances} utterances of {seconds:.1f} s at real time:")
    for calls in concurrency:
        rows: list[tuple[float, list[float]]] = []
        cpu_before = time.process_time()
        for _ in range(runs):
            rows += await asyncio.gather(*(stt_call(audio, utterances) for _ in range(calls)))
        cpu = (time.process_time() - cpu_before) / (runs * calls * utterances * seconds)
        print(f" {calls} concurrent call(s):")
        summary("  decoder start-up (connect)", [r[0] for r in rows])
        summary("  end of speech -> final, re-decoded (1st)", [r[1][0] for r in rows])
        summary("  end of speech -> final, streaming (last)", [r[1][-1] for r in rows])
        summary("  process CPU per second of caller audio", [cpu], "s", 1.0)


async def bench_tts(runs: int) -> None:
    tts = PiperTTS(ProviderConfig(vendor="piper"))
    await tts.connect()
    first: list[float] = []
    speed: list[float] = []
    for run in range(runs):
        started = time.perf_counter()
        audio = 0
        first_at = None
        # A text of its own per run: a repeated one would come from the sentence cache.
        async for chunk in tts.synthesize(f"{SENTENCE} That was number {run + 1}."):
            first_at = first_at or time.perf_counter() - started
            audio += len(chunk.pcm)
        first.append(first_at or 0.0)
        speed.append((time.perf_counter() - started) / (audio / 2 / chunk.sample_rate))
    print(f"piper, one sentence of {len(SENTENCE.split())} words:")
    summary("  text -> first audio", first)
    summary("  synthesis time per second of speech", speed, "s", 1.0)


async def bench_scripted(runs: int) -> None:
    llm = ScriptedLLM(ProviderConfig(vendor="scripted"))
    history = [Message("user", "hello"), Message("assistant", "Hello!")] * 10
    history.append(Message("user", "i would like to book for tomorrow morning"))
    times = []
    for _ in range(runs * 50):
        started = time.perf_counter()
        async for _delta in llm.stream(history, ""):
            pass
        times.append(time.perf_counter() - started)
    print("scripted LLM, 21-message history:")
    summary("  whole reply streamed", times, "µs", 1e6)


def bench_vad(runs: int) -> None:
    speech = telephone_speech(UTTERANCE, 0.3)
    frames = [speech[i : i + FRAME_16K] for i in range(0, len(speech) - FRAME_16K + 1, FRAME_16K)]
    print(f"VAD engines, {len(frames)} frames of 20 ms at 16 kHz:")
    profile = VAD_PROFILES[BargeInSensitivity.MEDIUM]
    for engine in ("webrtc", "silero"):
        per_frame = []
        for _ in range(runs):
            vad = create_vad(engine, 16000, profile)
            process: Callable[[bytes], object] = vad.process
            started = time.perf_counter()
            for frame in frames:
                process(frame)
            per_frame.append((time.perf_counter() - started) / len(frames))
        summary(f"  {engine} per frame", per_frame, "µs", 1e6)


async def main(runs: int, concurrency: list[int]) -> None:
    await bench_stt(runs, concurrency)
    await bench_tts(runs)
    await bench_scripted(runs)
    bench_vad(runs)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=[1, 4], help="simultaneous calls"
    )
    arguments = parser.parse_args()
    asyncio.run(main(arguments.runs, arguments.concurrency))
