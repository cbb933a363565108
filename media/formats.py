"""Wire audio formats: codec, sample rate and the size of one 20 ms frame."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# Telephony frames are 20 ms everywhere (Asterisk's default ptime, Twilio's chunk size).
FRAME_MS = 20


class Codec(StrEnum):
    """Sample encodings a media leg can carry."""

    ULAW = "ulaw"  # G.711 µ-law, 1 byte per sample
    ALAW = "alaw"  # G.711 A-law, 1 byte per sample
    SLIN = "slin"  # signed 16-bit linear PCM, little-endian, 2 bytes per sample


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """A codec at a sample rate, as carried on the wire."""

    codec: Codec
    sample_rate: int

    @property
    def bytes_per_sample(self) -> int:
        return 2 if self.codec is Codec.SLIN else 1

    @property
    def samples_per_frame(self) -> int:
        return self.sample_rate * FRAME_MS // 1000

    @property
    def frame_bytes(self) -> int:
        """Bytes in one 20 ms frame."""
        return self.samples_per_frame * self.bytes_per_sample


ULAW_8K = AudioFormat(Codec.ULAW, 8000)
ALAW_8K = AudioFormat(Codec.ALAW, 8000)
SLIN_8K = AudioFormat(Codec.SLIN, 8000)
SLIN_16K = AudioFormat(Codec.SLIN, 16000)
