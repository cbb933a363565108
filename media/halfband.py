"""Streaming 2:1 sample-rate conversion of PCM16 mono with a short half-band filter.

For a round trip through a processor at twice the line's rate (8 kHz caller audio through a
16 kHz noise suppressor) where delay matters more than the last dB of image rejection: the
filter holds 1.4 ms each way where soxr's streaming engine holds 30 ms, and it rejects the
images well enough that noise bursts do not come back through the suppressor as speech
(soxr's cubic interpolation, just as quick, let them: `bench.noise_suppression`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

# Taps of the windowed-sinc low-pass at a quarter of the high rate: 23 samples of delay at
# 16 kHz (1.4 ms), about 50 dB of stop-band rejection with the Kaiser window's beta of 6.
TAPS = 47
_KAISER_BETA = 6.0
_n = np.arange(TAPS) - (TAPS - 1) / 2
_LOW_PASS: npt.NDArray[np.float64] = 0.5 * np.sinc(0.5 * _n) * np.kaiser(TAPS, _KAISER_BETA)


def _pcm16(samples: npt.NDArray[np.float64]) -> bytes:
    return np.clip(np.rint(samples), -32768, 32767).astype("<i2").tobytes()


class Upsample2:
    """Twice the rate: each sample followed by a zero, then the low-pass removes the image."""

    def __init__(self) -> None:
        self._history = np.zeros(TAPS - 1)

    def process(self, pcm: bytes) -> bytes:
        """PCM16 at the low rate in (an even byte count), twice as many samples out."""
        samples = np.frombuffer(pcm, dtype="<i2")
        if not len(samples):
            return b""
        stuffed = np.zeros(len(self._history) + 2 * len(samples))
        stuffed[: len(self._history)] = self._history
        stuffed[len(self._history) :: 2] = samples
        self._history = stuffed[-(TAPS - 1) :]
        return _pcm16(np.convolve(stuffed, 2 * _LOW_PASS, mode="valid"))


class Downsample2:
    """Half the rate: the low-pass removes what would alias, then every other sample."""

    def __init__(self) -> None:
        self._history = np.zeros(TAPS - 1)
        self._phase = 0  # where the next kept sample is, in the next chunk

    def process(self, pcm: bytes) -> bytes:
        """PCM16 at the high rate in (an even byte count), half as many samples out."""
        samples = np.frombuffer(pcm, dtype="<i2")
        if not len(samples):
            return b""
        window = np.concatenate((self._history, samples))
        self._history = window[-(TAPS - 1) :]
        kept = np.convolve(window, _LOW_PASS, mode="valid")[self._phase :: 2]
        self._phase = (self._phase + len(samples)) % 2
        return _pcm16(kept)
