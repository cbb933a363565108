"""Noise suppression before the VAD and the recognizer, measured on the turn-taking set.

    uv run --frozen --no-sync --with pyspeex-noise --with webrtc-noise-gain \
        python -m bench.noise_suppression [--wer]

The suppressors are not dependencies of Vocals (measured, not offered: see README, "Turn
detection"), hence `--with`. Each works on 10 ms of 16 kHz PCM16, so every recording is
upsampled, cleaned and brought back to the line's 8 kHz. Per suppressor: its CPU per 20 ms
frame, `smart` turn detection (webrtcvad) on the clean and noisy halves (delay p50/p99,
turns never ended, cut-offs), the share of backchannels, noise bursts and real turns said
over the agent that stop it at `medium` (the plain rule and the engine's backchannel-aware
one), and with `--wer` PocketSphinx's word error rate on the noisy turns (`bench.turn_stt`).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import soxr

from bench.offline_wer import edit_distance, words
from bench.turn_set import DEFAULT_CACHE, Case, build, load_pcm
from bench.turn_stt import hear
from bench.turn_taking import Tally, _p, _pct, barged_in, labels, run_turn
from media.vad import BargeInSensitivity
from pipeline.backchannel import BackchannelBargeIn
from pipeline.bargein import BargeInPolicy
from pipeline.turn_taking import SmartPolicy, SmartTurnSettings
from providers import builtin
from providers.local import shared

TEN_MS = 320  # bytes of 16 kHz PCM16
STT_LAG_MS = 150


def _speex() -> Callable[[bytes], bytes]:
    processor: Any = importlib.import_module("pyspeex_noise").AudioProcessor(0, -30)
    return processor.process_10ms  # type: ignore[no-any-return]


def _webrtc() -> Callable[[bytes], bytes]:
    processor: Any = importlib.import_module("webrtc_noise_gain").AudioProcessor(0, 2)
    return lambda chunk: processor.Process10ms(chunk).audio


# Suppressor: a fresh one per recording (None: the line as it is). Auto gain off in both.
SUPPRESSORS: dict[str, Callable[[], Callable[[bytes], bytes]] | None] = {
    "none": None,
    "speexdsp -30 dB (pyspeex-noise)": _speex,
    "webrtc level 2 (webrtc-noise-gain)": _webrtc,
}


def clean(pcm: bytes, make: Callable[[], Callable[[bytes], bytes]] | None) -> tuple[bytes, float]:
    """`pcm` (8 kHz) through the suppressor, and the suppressor's CPU seconds."""
    if make is None:
        return pcm, 0.0
    wide = soxr.resample(np.frombuffer(pcm, dtype="<i2"), 8000, 16000).astype("<i2").tobytes()
    suppress = make()
    started = time.process_time()
    out = b"".join(suppress(wide[i : i + TEN_MS]) for i in range(0, len(wide) - TEN_MS + 1, TEN_MS))
    cpu = time.process_time() - started
    narrow = soxr.resample(np.frombuffer(out, dtype="<i2"), 16000, 8000).astype("<i2")
    return narrow.tobytes(), cpu


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
    make = SUPPRESSORS[name]
    audio: dict[str, bytes] = {}
    cpu = seconds = 0.0
    for case in cases:
        audio[case.name], spent = clean(load_pcm(DEFAULT_CACHE, case), make)
        cpu += spent
        seconds += len(audio[case.name]) / 16000
    print(f"{name}: {1000 * cpu / (seconds * 50):.3f} ms per 20 ms frame")
    turns = [c for c in cases if c.kind == "turn"]
    for noisy in (False, True):
        tally = Tally()
        for case in (c for c in turns if c.noisy is noisy):
            policy = SmartPolicy(SmartTurnSettings())
            run_turn(case, audio[case.name], policy, "webrtc", labels(STT_LAG_MS), tally)
        print(
            f"  smart {'noisy' if noisy else 'clean'}: delay {statistics.median(tally.delays):.0f}"
            f" / {_p(tally.delays, 0.99)} ms, never ended {tally.missed}, cut-offs "
            f"{_pct(tally.cut_offs, tally.pauses)}"
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
    args = parser.parse_args()
    builtin.load_all()
    cases = build(DEFAULT_CACHE)
    for name in SUPPRESSORS:
        measure(name, cases, args.wer)


if __name__ == "__main__":
    main()
