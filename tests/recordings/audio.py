"""Reading a recording back: per-channel loudness over time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile  # type: ignore[import-untyped]

WINDOW_S = 0.1
# RMS above this is sound (test tones and speech are thousands; µ-law/slin silence is ~0).
LOUD_RMS = 300.0


def read_stereo(path: Path) -> tuple[npt.NDArray[np.int16], int]:
    """(samples × 2 int16, sample rate) of a recording."""
    data, rate = soundfile.read(path, dtype="int16", always_2d=True)
    assert data.shape[1] == 2, f"{path} has {data.shape[1]} channels"
    return data, int(rate)


def loud_windows(channel: npt.NDArray[np.int16], rate: int) -> npt.NDArray[np.bool_]:
    """For each 100 ms window of one channel: is it loud?"""
    size = int(rate * WINDOW_S)
    n = len(channel) // size
    blocks = channel[: n * size].astype(np.float64).reshape(n, size)
    rms = np.sqrt(np.mean(blocks**2, axis=1))
    return np.asarray(rms > LOUD_RMS)


def loud_seconds(windows: npt.NDArray[np.bool_]) -> float:
    return float(np.count_nonzero(windows)) * WINDOW_S


def first_loud_s(windows: npt.NDArray[np.bool_]) -> float:
    indices = np.flatnonzero(windows)
    assert len(indices), "never loud"
    return float(indices[0]) * WINDOW_S
