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
# No frame from the agent for this long: its audio stopped (frames come every 20 ms while it
# plays, silence included).
STREAM_GAP_S: Final = 0.2


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


def stopped_after(
    heard: list[tuple[float, bytes]], segments: list[Segment], started: float, until: float
) -> float | None:
    """When the agent's audio that was playing at `started` stopped, if before `until`.

    Asterisk forwards the agent's frames only while the agent sends some, pauses between
    words included: the stream stopping (no frame for STREAM_GAP_S) is when its queue was
    dropped, which speech energy alone cannot tell from a pause. A stop after which the agent
    starts speaking again before `until` was a pause, not the stop. A stream that had a gap
    (its next sentence not synthesized yet) when the caller cut in, and was dropped during
    it, reads as stopping at the gap: the figure is when the caller last heard the agent."""
    arrivals = [at for at, _ in heard if at >= started - STREAM_GAP_S]
    last = started
    for at in [*arrivals, math.inf]:
        if at - last >= STREAM_GAP_S:
            resumed = any(last < s.start < until for s in segments)
            if not resumed:
                stop = last + FRAME_S if arrivals and last > started else started
                return stop if stop < until else None
        last = max(last, at)
    return None


def playing_at(heard: list[tuple[float, bytes]], t: float) -> bool:
    """Whether the agent's audio was arriving at `t`."""
    return any(t - STREAM_GAP_S <= at <= t for at, _ in heard)


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
