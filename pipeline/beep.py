"""Waiting for a mailbox's beep before leaving a message in it.

A mailbox records from its beep on: a message started on the AMD verdict plays over the
greeting and is mostly lost. The beep is a sustained pure tone (one frequency in 400-2000 Hz
for at least 150 ms); it is found per 20 ms frame by how much of the frame's energy sits at
one spectral peak. A mailbox without a beep records once its greeting is over, which shows as
a stretch of quiet; and after a maximum wait the message is left in any case.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Final, Literal

import numpy as np

from media.codec import decode_to_pcm
from media.formats import AudioFormat
from media.leg import LegEvent

BEEP_MIN_HZ: Final = 400.0
BEEP_MAX_HZ: Final = 2000.0
# Shorter tones are clicks or DTMF-like blips, not the record prompt.
BEEP_MIN_MS: Final = 150
# Share of a frame's energy within one bin either side of the peak: a windowed pure tone
# keeps over 90 % there, voiced speech (many harmonics) well under half.
TONE_PURITY: Final = 0.7
# RMS below which a frame is quiet (line noise is tens, speech and beeps thousands).
SOUND_RMS: Final = 300.0
# Consecutive tone frames may wander this many FFT bins (50 Hz each at 8 kHz, 20 ms).
PEAK_WANDER_BINS: Final = 1
# No frame for this long during a beep ends it: Asterisk sends no frames while the far end
# is silent, so the quiet after a beep may never arrive as audio.
BEEP_GAP_S: Final = 0.1

Verdict = Literal["beep", "quiet", "timeout", "closed"]


class BeepDetector:
    """Fed 20 ms PCM16 frames; says when a beep has just ended."""

    def __init__(self, sample_rate: int) -> None:
        self._rate = sample_rate
        self._run_ms = 0
        self._run_bin = -1

    @property
    def in_beep(self) -> bool:
        """A tone has lasted long enough to be a beep and has not stopped yet."""
        return self._run_ms >= BEEP_MIN_MS

    def feed(self, pcm: bytes) -> bool:
        """Analyse one frame; True on the first frame after a beep (the tone just stopped)."""
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
        if not samples.size:
            return False
        peak = self._tone_bin(samples)
        frame_ms = 1000 * samples.size // self._rate
        if peak is not None and (
            self._run_ms == 0 or abs(peak - self._run_bin) <= PEAK_WANDER_BINS
        ):
            if self._run_ms == 0:
                self._run_bin = peak
            self._run_ms += frame_ms
            return False
        ended = self._run_ms >= BEEP_MIN_MS
        self._run_ms = frame_ms if peak is not None else 0
        self._run_bin = peak if peak is not None else -1
        return ended

    def _tone_bin(self, samples: np.ndarray) -> int | None:
        if float(np.sqrt(np.mean(samples * samples))) < SOUND_RMS:
            return None
        power = np.abs(np.fft.rfft(samples * np.hanning(samples.size))) ** 2
        bin_hz = self._rate / samples.size
        low, high = int(BEEP_MIN_HZ / bin_hz), int(BEEP_MAX_HZ / bin_hz) + 1
        peak = low + int(np.argmax(power[low:high]))
        purity = float(power[max(0, peak - 1) : peak + 2].sum() / max(power.sum(), 1e-9))
        return peak if purity >= TONE_PURITY else None


def is_sound(pcm: bytes) -> bool:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
    return bool(samples.size) and float(np.sqrt(np.mean(samples * samples))) >= SOUND_RMS


class EventFeed:
    """A leg's events, read by a task of its own: a wait with a timeout then never cancels
    (and so ends) the leg's one `events()` iterator."""

    def __init__(self, events: AsyncIterator[LegEvent]) -> None:
        self._queue: asyncio.Queue[LegEvent | None] = asyncio.Queue()
        self._task = asyncio.create_task(self._pump(events))

    async def _pump(self, events: AsyncIterator[LegEvent]) -> None:
        try:
            async for event in events:
                self._queue.put_nowait(event)
        finally:
            self._queue.put_nowait(None)

    async def next(self) -> LegEvent | None:
        """The next event; None once the leg has closed."""
        return await self._queue.get()

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def wait_for_beep(
    feed: EventFeed, fmt: AudioFormat, *, max_wait_s: float, quiet_s: float
) -> Verdict:
    """Read the callee's audio until a beep ended, `quiet_s` passed without sound (a greeting
    over with no beep; Asterisk sends no frames at all while the far end is silent), or
    `max_wait_s` passed; "closed" when the leg closed first."""
    detector = BeepDetector(fmt.sample_rate)
    now = time.monotonic()
    deadline, last_sound = now + max_wait_s, now
    while True:
        now = time.monotonic()
        if now >= deadline:
            return "timeout"
        if now - last_sound >= quiet_s:
            return "quiet"
        wait_s = min(deadline, last_sound + quiet_s) - now
        try:
            async with asyncio.timeout(min(wait_s, BEEP_GAP_S) if detector.in_beep else wait_s):
                event = await feed.next()
        except TimeoutError:
            if detector.in_beep:
                return "beep"
            continue
        if event is None:
            return "closed"
        if not isinstance(event, bytes):
            continue
        pcm = decode_to_pcm(event, fmt)
        if detector.feed(pcm):
            return "beep"
        if is_sound(pcm):
            last_sound = time.monotonic()
