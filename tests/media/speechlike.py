"""Speech-like test audio: harmonic bursts with a syllable envelope over faint noise."""

from __future__ import annotations

import numpy as np


def speechlike(rate: int, segments: list[tuple[bool, int]], seed: int = 7) -> bytes:
    """PCM16 of consecutive (voiced?, duration_ms) segments; silence is faint noise."""
    rng = np.random.default_rng(seed)
    parts = []
    for voiced, ms in segments:
        n = rate * ms // 1000
        t = np.arange(n) / rate
        noise = rng.normal(0, 20, n)
        if not voiced:
            parts.append(noise)
            continue
        f0 = 120 + 15 * np.sin(2 * np.pi * 1.3 * t)  # a wandering pitch, like a talker's
        phase = 2 * np.pi * np.cumsum(f0) / rate
        voice = sum(np.sin(k * phase) / k for k in range(1, int(3400 / 135)))
        envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 4 * t - np.pi / 2)  # ~4 syllables a second
        parts.append(6000 * voice * envelope / 2 + noise)
    return np.clip(np.concatenate(parts), -32768, 32767).astype("<i2").tobytes()
