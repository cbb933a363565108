"""What the selftest caller heard, measured from the audio alone (energy VAD, time-based)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np

from vocals.demo import SPEECH_RMS

FULL_SCALE: Final = 32768.0
# Agent speech frames closer than this belong to one stretch of speech: words and the pauses
# between sentences of one reply stay together, a reply and the next one do not.
SEGMENT_GAP_S: Final = 0.5
FRAME_S: Final = 0.02


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of agent speech: time.monotonic() of its first and last speech frame."""

    start: float
    end: float


def frame_rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
    return float(np.sqrt(np.mean(samples * samples))) if samples.size else 0.0


def speech_segments(heard: list[tuple[float, bytes]]) -> list[Segment]:
    """The agent's speech in `heard` (arrival time, slin frame), as merged stretches."""
    segments: list[Segment] = []
    for at, pcm in heard:
        if frame_rms(pcm) <= SPEECH_RMS:
            continue
        if segments and at - segments[-1].end < SEGMENT_GAP_S:
            segments[-1] = Segment(segments[-1].start, at)
        else:
            segments.append(Segment(at, at))
    return segments


def first_start_after(segments: list[Segment], t: float) -> float | None:
    """When the agent next started speaking after `t`, if it did."""
    return next((s.start for s in segments if s.start > t), None)


def stopped_after(segments: list[Segment], started: float, until: float) -> float | None:
    """When the agent's speech that was going on at `started` stopped for good before `until`
    (it may pause and go on talking over the caller: the last stretch begun before `until`
    counts); None when it never stopped before `until`."""
    talking = [s for s in segments if s.end >= started and s.start < until]
    if not talking:
        return started
    end = talking[-1].end + FRAME_S
    return end if end < until else None


def dbfs(heard: list[tuple[float, bytes]]) -> tuple[float | None, float | None]:
    """RMS level of the agent's speech frames and the peak of everything heard, in dBFS."""
    speech = [pcm for _, pcm in heard if frame_rms(pcm) > SPEECH_RMS]
    if not speech:
        return None, None
    samples = np.frombuffer(b"".join(speech), dtype="<i2").astype(np.float64)
    rms = float(np.sqrt(np.mean(samples * samples)))
    peak = max(int(np.max(np.abs(np.frombuffer(pcm, "<i2")))) for _, pcm in heard)
    return _db(rms), _db(float(peak))


def _db(value: float) -> float:
    return round(20 * math.log10(max(value, 1.0) / FULL_SCALE), 1)
