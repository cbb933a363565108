"""PCM16 mono wrapped as an in-memory WAV file, for vendors that take audio files."""

from __future__ import annotations

import io
import wave


def wav_bytes(pcm: bytes, sample_rate: int) -> bytes:
    """A complete RIFF/WAVE file holding `pcm` (signed 16-bit little-endian mono)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm)
    return buffer.getvalue()
