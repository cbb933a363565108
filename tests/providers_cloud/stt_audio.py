"""Synthetic caller audio for the STT tests: speech-like bursts and faint-noise silence."""

from __future__ import annotations

from tests.media.speechlike import speechlike

FRAME_MS = 20


def speech(seconds: float, sample_rate: int) -> bytes:
    """Voiced, syllable-shaped audio the speech gate (webrtcvad) passes, as PCM16 LE."""
    return speechlike(sample_rate, [(True, int(seconds * 1000))])


def silence(seconds: float, sample_rate: int) -> bytes:
    """Line noise far below speech level."""
    return speechlike(sample_rate, [(False, int(seconds * 1000))])


def frames(pcm: bytes, sample_rate: int) -> list[bytes]:
    """`pcm` cut into 20 ms frames, as the pipeline feeds it."""
    size = sample_rate * FRAME_MS // 1000 * 2
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]
