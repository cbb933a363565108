"""Convert one wire format's bytes to and from PCM16 little-endian, and make its silence."""

from __future__ import annotations

from media.formats import AudioFormat, Codec
from media.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode

# The byte each codec uses for digital silence (G.711 §8.3 of PROTOCOLS.md: 0xFF decodes to
# +0 in µ-law; A-law has no zero, 0xD5 decodes to +8, the conventional idle pattern).
SILENCE_BYTE: dict[Codec, int] = {Codec.ULAW: 0xFF, Codec.ALAW: 0xD5, Codec.SLIN: 0x00}


def decode_to_pcm(frame: bytes, fmt: AudioFormat) -> bytes:
    """Wire bytes of `fmt` to PCM16 little-endian at `fmt.sample_rate`."""
    if fmt.codec is Codec.ULAW:
        return ulaw_decode(frame)
    if fmt.codec is Codec.ALAW:
        return alaw_decode(frame)
    if len(frame) % 2:
        raise ValueError(f"slin needs an even byte count, got {len(frame)}")
    return frame


def encode_from_pcm(pcm: bytes, fmt: AudioFormat) -> bytes:
    """PCM16 little-endian at `fmt.sample_rate` to wire bytes of `fmt`."""
    if fmt.codec is Codec.ULAW:
        return ulaw_encode(pcm)
    if fmt.codec is Codec.ALAW:
        return alaw_encode(pcm)
    if len(pcm) % 2:
        raise ValueError(f"PCM16 needs an even byte count, got {len(pcm)}")
    return pcm


def silence(fmt: AudioFormat, n_bytes: int) -> bytes:
    """`n_bytes` of the codec's silence."""
    return bytes((SILENCE_BYTE[fmt.codec],)) * n_bytes
