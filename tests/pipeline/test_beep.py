"""The mailbox beep detector on synthesized audio: beeps across the band are found where they
end; speech, short blips and two-tone signals are not beeps."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.beep import BeepDetector
from tests.media.speechlike import speechlike

RATE = 8000
FRAME = 320  # 20 ms of slin 8 kHz


def tones(seconds: float, *freqs: float) -> bytes:
    t = np.arange(int(RATE * seconds)) / RATE
    wave: np.ndarray = np.sum([np.sin(2 * np.pi * f * t) for f in freqs], axis=0) / len(freqs)
    return (8000 * wave).astype("<i2").tobytes()


def ends(audio: bytes) -> list[int]:
    """Milliseconds at which the detector said a beep had just ended."""
    detector = BeepDetector(RATE)
    return [i // 16 for i in range(0, len(audio), FRAME) if detector.feed(audio[i : i + FRAME])]


@pytest.mark.parametrize("freq", [440.0, 1000.0, 1400.0, 1900.0])
def test_a_beep_after_a_greeting_is_found_where_it_ends(freq: float) -> None:
    greeting = speechlike(RATE, [(True, 1500), (False, 300), (True, 1200)])
    [end_ms] = ends(greeting + tones(0.25, freq) + bytes(FRAME * 10))
    assert 3250 <= end_ms <= 3270  # the beep ends at 3250 ms, mid-frame


def test_speech_short_blips_and_two_tones_are_not_beeps() -> None:
    assert ends(speechlike(RATE, [(True, 4000)], seed=3)) == []
    assert ends(tones(0.1, 1000) + bytes(FRAME * 5)) == []
    assert ends(tones(0.3, 697, 1209) + bytes(FRAME * 5)) == []  # DTMF "1"
