"""An in-memory `MediaLeg` for pipeline tests and benchmarks.

It is a `PacedLeg` (the real legs' pacing, marks, clear and backpressure) whose "network" is
a list: each tick plays one outbound frame into `played` and delivers one inbound frame, the
caller's queued audio or silence, like a phone line that never stops sending. `speed` > 1
runs the line faster than real time.
"""

from __future__ import annotations

import math
import time

import numpy as np

from media.codec import encode_from_pcm, silence
from media.formats import FRAME_MS, SLIN_8K, AudioFormat
from media.leg import Dtmf
from media.paced_leg import PacedLeg
from media.pacer import FrameTicker


def speech_pcm(ms: int, sample_rate: int = 8000, amplitude: int = 9000) -> bytes:
    """A voiced, speech-like signal (harmonics of a wavering 130 Hz pitch, syllable-rate
    envelope) that webrtcvad classifies as speech at every aggressiveness."""
    t = np.arange(sample_rate * ms // 1000) / sample_rate
    f0 = 130 + 10 * np.sin(2 * math.pi * 3 * t)
    phase = 2 * math.pi * np.cumsum(f0) / sample_rate
    voiced = sum((1 / k) * np.sin(k * phase) for k in range(1, 20))
    envelope = 0.6 + 0.4 * np.sin(2 * math.pi * 4 * t)
    signal = voiced * envelope / np.max(np.abs(voiced))
    pcm: bytes = (signal * amplitude).astype("<i2").tobytes()
    return pcm


def silence_pcm(ms: int, sample_rate: int = 8000) -> bytes:
    return bytes(sample_rate * ms // 1000 * 2)


class MemoryLeg(PacedLeg):
    """The caller side is driven by the test (`say`, `press`, `caller_hangup`).

    Silence is not recorded (hundreds of legs in a benchmark would otherwise keep every
    frame alive): `played` holds agent audio frames, `caller_frames` caller audio times.
    """

    def __init__(
        self,
        fmt: AudioFormat = SLIN_8K,
        *,
        speed: float = 1.0,
        ticker: FrameTicker | None = None,
        high_water_ms: int = 300,
        low_water_ms: int = 100,
    ) -> None:
        super().__init__(
            fmt,
            ticker or FrameTicker(period_s=FRAME_MS / 1000 / speed),
            high_water_ms=high_water_ms,
            low_water_ms=low_water_ms,
        )
        self.speed = speed
        self._caller = bytearray()
        self._silence = silence(fmt, fmt.frame_bytes)
        self.played: list[tuple[float, bytes]] = []  # agent frames as they went out
        self.padding_frames = 0  # silence padding played (end of an utterance, marks)
        self.caller_frames: list[float] = []  # when each frame of caller audio was delivered
        self.last_tick = 0.0
        self.clears: list[float] = []
        self.marks_set: list[str] = []
        self.hung_up_at: float | None = None  # when we (the pipeline) hung up

    def start(self) -> None:
        """The leg is up: begin pacing both directions."""
        self._start()

    def say(self, pcm: bytes) -> None:
        """Queue caller audio (PCM16 at the leg's rate); it goes out 20 ms per tick."""
        self._caller += encode_from_pcm(pcm, self.format)

    def press(self, digit: str) -> None:
        self._deliver(Dtmf(digit))

    def caller_hangup(self) -> None:
        self._close("caller hung up")

    async def hangup(self) -> None:
        if self.hung_up_at is None:
            self.hung_up_at = time.monotonic()
        self._close("hangup")

    def clear(self) -> None:
        self.clears.append(time.monotonic())
        super().clear()

    def mark(self, name: str) -> None:
        self.marks_set.append(name)
        super().mark(name)

    def _transmit(self, frame: bytes) -> None:
        if frame == self._silence:
            self.padding_frames += 1
        else:
            self.played.append((time.monotonic(), frame))

    def _close_transport(self) -> None:
        """Nothing to release: the network is a list."""

    def on_tick(self, now: float) -> None:
        super().on_tick(now)
        if self.closed:
            return
        self.last_tick = now
        size = self.format.frame_bytes
        if self._caller:
            frame = bytes(self._caller[:size]).ljust(size, self._silence[:1])
            del self._caller[:size]
            self.caller_frames.append(now)
        else:
            frame = self._silence
        self._deliver(frame)

    # ---- assertions helpers -------------------------------------------------------------

    def agent_frames(self, after: float = 0.0) -> list[tuple[float, bytes]]:
        """Played frames that carry agent audio (not silence padding), after `after`."""
        return [(t, f) for t, f in self.played if t > after]

    @property
    def agent_ms(self) -> int:
        return len(self.agent_frames()) * FRAME_MS

    def levels(self) -> list[int]:
        """Peak level of each played agent frame (slin legs), in play order."""
        return [int(np.abs(np.frombuffer(f, dtype="<i2")).max()) for _, f in self.agent_frames()]
