"""The far party's ear for keys: DTMF detection (Goertzel, ITU-T Q.24 style) over the µ-law
audio a Media Stream played, as an IVR behind Twilio would hear the agent's key presses."""

from __future__ import annotations

import numpy as np

from media.dtmf_tones import COLUMNS_HZ, GRID, ROWS_HZ
from media.g711 import ulaw_decode

FRAME = 160  # 20 ms at 8 kHz
RATE = 8000
# A tone counts when both its frequencies hold this share of the frame's energy (Q.24: the
# two tones dominate; speech spreads its energy over many frequencies).
DOMINANCE = 0.6
# Frames quieter than this (mean square of 16-bit samples) are no key at all.
MIN_POWER = 1e5


def _power(samples: np.ndarray, freq: float) -> float:
    """Goertzel: the squared magnitude of `samples` at `freq`, normalized to mean square."""
    coeff = 2 * np.cos(2 * np.pi * freq / RATE)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    return float(s1 * s1 + s2 * s2 - coeff * s1 * s2) * 2 / len(samples) ** 2


def frame_key(pcm: np.ndarray) -> str | None:
    """The key sounding in one 20 ms frame of PCM, or None."""
    total = float(np.mean(pcm * pcm))
    if total < MIN_POWER:
        return None
    rows = [_power(pcm, f) for f in ROWS_HZ]
    cols = [_power(pcm, f) for f in COLUMNS_HZ]
    row, col = int(np.argmax(rows)), int(np.argmax(cols))
    # Each pure tone of amplitude A has mean square A²/2 and Goertzel power A²/2 here.
    if rows[row] + cols[col] < DOMINANCE * total:
        return None
    return GRID[row][col]


def keys_in(ulaw: bytes) -> str:
    """The keys pressed in `ulaw` audio, in order: a key lasting two or more frames counts
    once, until a frame without it."""
    pcm = np.frombuffer(ulaw_decode(ulaw), dtype="<i2").astype(np.float64)
    keys = ""
    current: str | None = None
    run = 0
    for start in range(0, len(pcm) - FRAME + 1, FRAME):
        key = frame_key(pcm[start : start + FRAME])
        run = run + 1 if key == current else 1
        current = key
        if key is not None and run == 2:
            keys += key
    return keys
