"""The offline recognizer's words on the turn-taking set, as a call hears them.

    uv run --frozen --no-sync python -m bench.turn_stt [--show]

Each turn of `bench.turn_set` goes, in 20 ms frames decoded from µ-law and upsampled to
16 kHz as `pipeline.inbound` does, through PocketSphinx's own speech gate and ~100 ms feed
batches into a recognizer session in the local workers, as `PocketsphinxSTT` streams a call.
Each partial is dated by the audio fed so far plus the time the worker took to answer that
batch (what a lone call waits; the audio itself goes in faster than real time, so a run
takes a fraction of the set's length). The final, asked for after the turn's audio, gives
the word error rate. The timelines are cached beside the set (`stt-v{SET_VERSION}.json`) for
`bench.turn_taking --words recognizer`, which feeds them to the end-of-turn policies instead
of the set's labels.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import msgspec

from bench.offline_wer import edit_distance, words
from bench.turn_set import DEFAULT_CACHE, SET_VERSION, Case, build, load_pcm
from media.formats import FRAME_MS
from media.resample import StreamResampler
from providers import builtin
from providers.local import shared
from providers.local.pool import LocalPool
from providers.stt.pocketsphinx import TELEPHONE_CMNINIT, PocketsphinxOptions
from providers.stt.speech_gate import SpeechGate
from providers.stt.worker_stt import FEED_BYTES, SAMPLE_RATE

FRAME_BYTES = 8000 * FRAME_MS // 1000 * 2  # 20 ms of slin at 8 kHz


@dataclass(frozen=True, slots=True)
class Heard:
    """One turn as the recognizer heard it: partials as (audio ms, text) and the final."""

    name: str
    partials: list[tuple[int, str]]
    final: str


def timeline_path(cache: Path) -> Path:
    return cache / f"stt-v{SET_VERSION}.json"


async def hear(pool: LocalPool, case: Case, pcm: bytes) -> Heard:
    """One turn through a recognizer session of its own, fed as the provider feeds it."""
    options = msgspec.to_builtins(PocketsphinxOptions())
    options["cmninit"] = TELEPHONE_CMNINIT
    session = await pool.open("pocketsphinx", **options)
    up = StreamResampler(8000, SAMPLE_RATE, low_latency=False)
    gate = SpeechGate(SAMPLE_RATE)
    pending = bytearray()
    partials: list[tuple[int, str]] = []
    fed_ms = 0
    try:
        for offset in range(0, len(pcm) - FRAME_BYTES + 1, FRAME_BYTES):
            gate.push(up.process(pcm[offset : offset + FRAME_BYTES]), pending)
            fed_ms += FRAME_MS
            if len(pending) < FEED_BYTES:
                continue
            started = time.monotonic()
            replies = await session.call("feed", bytes(pending))
            pending.clear()
            at_ms = fed_ms + round(1000 * (time.monotonic() - started))
            for reply in replies:
                if not partials or partials[-1][1] != reply.text:
                    partials.append((at_ms, reply.text))
        if pending:
            await session.call("feed", bytes(pending))
        replies = await session.call("end")
    finally:
        await session.close()
    return Heard(case.name, partials, replies[0].text if replies else "")


async def hear_all(cases: list[Case], cache: Path) -> list[Heard]:
    builtin.load_all()
    pool = await shared.start(1)
    try:
        return [await hear(pool, case, load_pcm(cache, case)) for case in cases]
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
    parser.add_argument("--show", action="store_true", help="print every final transcript")
    args = parser.parse_args()
    turns = [c for c in build(args.cache) if c.kind == "turn"]
    heard = asyncio.run(hear_all(turns, args.cache))
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
