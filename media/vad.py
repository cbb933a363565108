"""Voice activity detection on 20 ms PCM16 frames with webrtcvad, turned into speech events.

Barge-in sensitivity maps to a profile (webrtcvad aggressiveness 0-3 = how readily a frame is
called speech, 3 the strictest; the speech needed before `SpeechStarted`; the silence needed
before `SpeechEnded`):

| sensitivity | aggressiveness | min speech | min silence | meant for |
|---|---|---|---|---|
| very_low  | 3 | 400 ms | 800 ms | noisy lines; only sustained talking interrupts |
| low       | 3 | 280 ms | 700 ms | street or car noise |
| medium    | 2 | 200 ms | 600 ms | the default: a short word ("wait") interrupts, coughs do not |
| high      | 1 | 120 ms | 600 ms | quiet lines, callers who speak softly |
| very_high | 0 |  80 ms | 500 ms | quiet lines; any utterance interrupts at once |

The end-of-speech silence stays above 500 ms because natural speech pauses 250-350 ms inside a
sentence; a shorter rule splits one sentence into two turns. Callers may override it, or give
an end rule of their own (the pipeline's `smart` turn detection waits by what was said).

The silence is counted from the caller's last loud frame, not from webrtcvad's last speech
frame: webrtcvad keeps calling frames speech for 80-160 ms after the voice stops (its built-in
hangover), which every turn would otherwise wait on top of the configured silence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import numpy as np
import webrtcvad

from media.formats import FRAME_MS

# webrtcvad flickers to "silence" for a frame or two inside words; a run of speech survives
# gaps up to this long before it starts counting again.
_MAX_GAP_IN_ONSET_MS = 40
# webrtcvad adapts its noise model over its first frames and meanwhile calls faint noise speech;
# those frames train the model but do not count towards an onset.
_WARMUP_MS = 100
# A frame less than this far above the line's noise floor is not speech when counting the
# silence that ends an utterance (measured on the turn-taking set: it removes webrtcvad's
# 80-160 ms hangover: p50 lag 120 -> 20 ms clean, 100 -> 0 ms noisy).
END_MARGIN_DB = 6.0
# The noise floor follows quieter frames at once and louder non-speech frames at this rate
# per frame (2.5 dB/s): a line getting noisier is followed within seconds.
_FLOOR_RISE_DB = 0.05

# Decides, from the silence so far after speech (ms), whether the utterance has ended.
EndRule = Callable[[int], bool]


class FrameClassifier(Protocol):
    """Calls one 20 ms PCM16 frame speech or not (webrtcvad's `Vad` has this shape)."""

    def is_speech(self, frame: bytes, sample_rate: int) -> bool: ...


class BargeInSensitivity(StrEnum):
    """How easily caller speech interrupts the agent (per agent)."""

    VERY_LOW = "very_low"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    VERY_HIGH = "very_high"


@dataclass(frozen=True, slots=True)
class VadProfile:
    """webrtcvad aggressiveness (0-3) and the durations that turn frames into events."""

    aggressiveness: int
    min_speech_ms: int
    min_silence_ms: int


VAD_PROFILES: dict[BargeInSensitivity, VadProfile] = {
    BargeInSensitivity.VERY_LOW: VadProfile(3, 400, 800),
    BargeInSensitivity.LOW: VadProfile(3, 280, 700),
    BargeInSensitivity.MEDIUM: VadProfile(2, 200, 600),
    BargeInSensitivity.HIGH: VadProfile(1, 120, 600),
    BargeInSensitivity.VERY_HIGH: VadProfile(0, 80, 500),
}


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """Speech began `at_ms` into the stream (onset of the run, not the moment of detection)."""

    at_ms: int


@dataclass(frozen=True, slots=True)
class SpeechEnded:
    """Speech ended `at_ms` into the stream (end of the last speech frame)."""

    at_ms: int


class VoiceActivityDetector:
    """Feed 20 ms frames; get `SpeechStarted` / `SpeechEnded` when the profile's rules are met.

    `classifier` calls each frame speech or not (default: webrtcvad at the profile's
    aggressiveness); the rules that turn frames into events are the same for any.

    Times are audio time since the first frame (or the last `reset()`).
    """

    __slots__ = (
        "_end_rule",
        "_floor_db",
        "_frame_bytes",
        "_frames",
        "_gap_frames",
        "_in_speech",
        "_max_gap_frames",
        "_min_speech_frames",
        "_onset_frame",
        "_rate",
        "_silence_frames",
        "_speech_frames",
        "_vad",
        "_warmup_frames",
    )

    def __init__(
        self,
        sample_rate: int,
        profile: VadProfile,
        *,
        min_silence_ms: int | None = None,
        end_rule: EndRule | None = None,
        classifier: FrameClassifier | None = None,
    ) -> None:
        if sample_rate not in (8000, 16000):
            raise ValueError(f"VAD runs at 8000 or 16000 Hz, got {sample_rate}")
        if not 0 <= profile.aggressiveness <= 3:
            raise ValueError(f"aggressiveness must be 0-3, got {profile.aggressiveness}")
        silence_ms = profile.min_silence_ms if min_silence_ms is None else min_silence_ms
        self._vad: FrameClassifier = classifier or webrtcvad.Vad(profile.aggressiveness)
        self._rate = sample_rate
        self._frame_bytes = sample_rate * FRAME_MS // 1000 * 2
        self._min_speech_frames = max(1, -(-profile.min_speech_ms // FRAME_MS))
        self._max_gap_frames = _MAX_GAP_IN_ONSET_MS // FRAME_MS
        self._warmup_frames = _WARMUP_MS // FRAME_MS
        self._end_rule = end_rule or (lambda silent_ms: silent_ms >= silence_ms)
        self._floor_db: float | None = None
        self.reset()

    @property
    def in_speech(self) -> bool:
        return self._in_speech

    def reset(self) -> None:
        """Forget all state; the next frame is at time 0 (webrtcvad's noise model is kept)."""
        self._frames = 0
        self._in_speech = False
        self._onset_frame = 0
        self._speech_frames = 0
        self._gap_frames = 0
        self._silence_frames = 0

    def end_speech(self, at_ms: int) -> SpeechEnded | None:
        """End the speech in progress at `at_ms`, where another detector heard its end (None
        when not in speech, or when this speech began at or after `at_ms`)."""
        if not self._in_speech or self._onset_frame * FRAME_MS >= at_ms:
            return None
        self._in_speech = False
        self._speech_frames = 0
        self._gap_frames = 0
        return SpeechEnded(at_ms)

    def process(self, pcm_frame: bytes) -> SpeechStarted | SpeechEnded | None:
        """Classify one 20 ms PCM16 frame and return the event it completes, if any."""
        if len(pcm_frame) != self._frame_bytes:
            raise ValueError(f"VAD needs {self._frame_bytes}-byte frames, got {len(pcm_frame)}")
        index = self._frames
        self._frames += 1
        speech: bool = self._vad.is_speech(pcm_frame, self._rate) and index >= self._warmup_frames
        loud = self._above_floor(pcm_frame, speech)
        if self._in_speech:
            if speech and loud:
                self._silence_frames = 0
                return None
            self._silence_frames += 1
            if not self._end_rule(self._silence_frames * FRAME_MS):
                return None
            self._in_speech = False
            self._speech_frames = 0
            self._gap_frames = 0
            return SpeechEnded((index + 1 - self._silence_frames) * FRAME_MS)
        if not speech:
            if self._speech_frames:
                self._gap_frames += 1
                if self._gap_frames > self._max_gap_frames:
                    self._speech_frames = 0
                    self._gap_frames = 0
            return None
        if not self._speech_frames:
            self._onset_frame = index
        self._speech_frames += 1
        self._gap_frames = 0
        if self._speech_frames < self._min_speech_frames:
            return None
        self._in_speech = True
        self._silence_frames = 0
        return SpeechStarted(self._onset_frame * FRAME_MS)

    def _above_floor(self, pcm_frame: bytes, speech: bool) -> bool:
        """Whether the frame is louder than the line's noise floor by `END_MARGIN_DB`."""
        samples = np.frombuffer(pcm_frame, dtype="<i2").astype(np.float32)
        level = 10.0 * float(np.log10(float(np.dot(samples, samples)) / len(samples) + 1.0))
        floor = self._floor_db
        if floor is None or level < floor:
            self._floor_db = floor = level
        elif not speech:
            self._floor_db = floor = floor + _FLOOR_RISE_DB
        return level >= floor + END_MARGIN_DB
