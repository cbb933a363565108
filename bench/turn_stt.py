"""The offline recognizer's words on the turn-taking set, as a call hears them.

    uv run --frozen --no-sync python -m bench.turn_stt [--calls 6] [--show]

Each turn of `bench.turn_set` is streamed in real time (20 ms frames, decoded from µ-law and
upsampled to 16 kHz as `pipeline.inbound` does) into PocketSphinx running in the local
workers, several turns at once as concurrent calls would. Every partial transcript is dated
by the audio sent when it arrived; the final (asked for after the turn's audio) gives the
word error rate. The timelines are cached beside the set (`stt-v{SET_VERSION}.json`) for
`bench.turn_taking --words recognizer`, which feeds them to the end-of-turn policies instead
of the set's labels. Real-time pacing on a shared machine: a rerun's partials may come a
frame or two earlier or later.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.offline_wer import edit_distance, words
from bench.turn_set import DEFAULT_CACHE, SET_VERSION, Case, build, load_pcm
from media.formats import FRAME_MS
from media.resample import StreamResampler
from providers import builtin
from providers.base import ProviderConfig, ProviderError
from providers.local import shared
from providers.stt.pocketsphinx import SAMPLE_RATE, PocketsphinxSTT

FRAME_BYTES = 8000 * FRAME_MS // 1000 * 2  # 20 ms of slin at 8 kHz
# Concurrent calls by default. On the shared 2-core machine (load 15-20) workers died mid-run
# at 6 and at 2 calls; one at a time keeps partials closest to what a lone call gets.
DEFAULT_CALLS = 1
# A turn whose worker died is heard again this many times (the pool replaces the worker).
RETRIES = 2


@dataclass(frozen=True, slots=True)
class Heard:
    """One turn as the recognizer heard it: partials as (audio ms, text) and the final."""

    name: str
    partials: list[tuple[int, str]]
    final: str


def timeline_path(cache: Path) -> Path:
    return cache / f"stt-v{SET_VERSION}.json"


async def hear(case: Case, pcm: bytes) -> Heard:
    """Stream one turn into a recognizer of its own, paced in real time."""
    stt = PocketsphinxSTT(ProviderConfig(vendor="pocketsphinx"))
    await stt.connect()
    up = StreamResampler(8000, SAMPLE_RATE, low_latency=False)
    partials: list[tuple[int, str]] = []
    sent_ms = 0
    final: list[str] = []

    async def listen() -> None:
        async for result in stt.transcripts():
            if result.is_final:
                final.append(result.text)
                return
            if not partials or partials[-1][1] != result.text:
                partials.append((sent_ms, result.text))

    listener = asyncio.create_task(listen())
    try:
        start = time.monotonic()
        for offset in range(0, len(pcm) - FRAME_BYTES + 1, FRAME_BYTES):
            await stt.send_audio(up.process(pcm[offset : offset + FRAME_BYTES]))
            sent_ms += FRAME_MS
            await asyncio.sleep(max(0.0, start + sent_ms / 1000 - time.monotonic()))
        await stt.end_utterance()
        await asyncio.wait_for(listener, 30)
    finally:
        listener.cancel()
        await stt.close()
    return Heard(case.name, partials, final[0] if final else "")


async def hear_all(cases: list[Case], cache: Path, calls: int) -> list[Heard]:
    builtin.load_all()
    await shared.start(calls)  # a worker per concurrent call
    slots = asyncio.Semaphore(calls)

    async def one(case: Case) -> Heard:
        async with slots:
            for _ in range(RETRIES):
                try:
                    return await hear(case, load_pcm(cache, case))
                except (ProviderError, TimeoutError) as e:
                    print(f"  {case.name}: heard again ({e or 'no final'})")
            return await hear(case, load_pcm(cache, case))

    try:
        return list(await asyncio.gather(*(one(c) for c in cases)))
    finally:
        await shared.stop()


def load_timelines(cache: Path) -> dict[str, Heard]:
    """The cached timelines by case name (run this module first)."""
    raw = json.loads(timeline_path(cache).read_text())
    return {
        h["name"]: Heard(h["name"], [(int(t), str(s)) for t, s in h["partials"]], h["final"])
        for h in raw
    }


def wer(cases: list[Case], heard: dict[str, Heard]) -> tuple[int, int]:
    """Word errors and reference words over `cases`."""
    errors = total = 0
    for case in cases:
        reference = words(" ".join(p.text for p in case.phrases))
        errors += edit_distance(reference, words(heard[case.name].final))
        total += len(reference)
    return errors, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--calls", type=int, default=DEFAULT_CALLS)
    parser.add_argument("--show", action="store_true", help="print every final transcript")
    args = parser.parse_args()
    turns = [c for c in build(args.cache) if c.kind == "turn"]
    heard = asyncio.run(hear_all(turns, args.cache, args.calls))
    timeline_path(args.cache).write_text(json.dumps([asdict(h) for h in heard], indent=1))
    by_name = {h.name: h for h in heard}
    for noisy in (False, True):
        chosen = [c for c in turns if c.noisy is noisy]
        errors, total = wer(chosen, by_name)
        line = "noisy" if noisy else "clean"
        print(f"PocketSphinx WER, {line} line: {100 * errors / total:5.1f} % ({errors}/{total})")
    if args.show:
        for case in turns:
            said = " ".join(p.text for p in case.phrases)
            print(f"  {case.name:22} {said!r:60} -> {by_name[case.name].final!r}")


if __name__ == "__main__":
    main()
