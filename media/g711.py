"""G.711 µ-law and A-law over signed 16-bit little-endian mono PCM, by table lookup.

The encoders follow the Sun reference `g711.c` (as CPython's `audioop` does): µ-law quantises
the sample shifted right by 2, A-law the sample shifted right by 3. The tables are built once,
vectorised, at import; a frame is then one numpy gather.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_ULAW_BIAS = 0x84
# Largest magnitude (after the >> 2) µ-law can represent before clipping; from g711.c.
_ULAW_CLIP = 8159
_ULAW_SEG_END = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)
_ALAW_SEG_END = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], dtype=np.int32)

_ALL_SAMPLES = np.arange(65536, dtype=np.uint16).view(np.int16).astype(np.int32)
_ALL_CODES = np.arange(256, dtype=np.int32)


def _build_ulaw_encoder() -> npt.NDArray[np.uint8]:
    val = _ALL_SAMPLES >> 2
    mask = np.where(val < 0, 0x7F, 0xFF)
    mag = np.minimum(np.abs(val), _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    seg = np.searchsorted(_ULAW_SEG_END, mag, side="left")
    code = (seg << 4) | ((mag >> (seg + 1)) & 0x0F)
    code = np.where(seg >= 8, 0x7F, code)
    return ((code ^ mask) & 0xFF).astype(np.uint8)


def _build_alaw_encoder() -> npt.NDArray[np.uint8]:
    val = _ALL_SAMPLES >> 3
    mask = np.where(val >= 0, 0xD5, 0x55)
    mag = np.where(val >= 0, val, -val - 1)
    seg = np.searchsorted(_ALAW_SEG_END, mag, side="left")
    shift = np.where(seg < 2, 1, seg)
    code = (seg << 4) | ((mag >> shift) & 0x0F)
    code = np.where(seg >= 8, 0x7F, code)
    return ((code ^ mask) & 0xFF).astype(np.uint8)


def _build_ulaw_decoder() -> npt.NDArray[np.int16]:
    u = ~_ALL_CODES & 0xFF
    t = (((u & 0x0F) << 3) + _ULAW_BIAS) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, _ULAW_BIAS - t, t - _ULAW_BIAS).astype("<i2")


def _build_alaw_decoder() -> npt.NDArray[np.int16]:
    a = _ALL_CODES ^ 0x55
    seg = (a & 0x70) >> 4
    t = (a & 0x0F) << 4
    t = np.where(seg == 0, t + 8, np.where(seg == 1, t + 0x108, (t + 0x108) << (seg - 1)))
    return np.where(a & 0x80, t, -t).astype("<i2")


_ULAW_ENCODE = _build_ulaw_encoder()
_ALAW_ENCODE = _build_alaw_encoder()
_ULAW_DECODE = _build_ulaw_decoder()
_ALAW_DECODE = _build_alaw_decoder()


def _samples(pcm: bytes) -> npt.NDArray[np.uint16]:
    if len(pcm) % 2:
        raise ValueError(f"PCM16 needs an even byte count, got {len(pcm)}")
    return np.frombuffer(pcm, dtype="<u2")


def ulaw_encode(pcm: bytes) -> bytes:
    """Encode PCM16 little-endian to µ-law (one byte per sample)."""
    return _ULAW_ENCODE[_samples(pcm)].tobytes()


def alaw_encode(pcm: bytes) -> bytes:
    """Encode PCM16 little-endian to A-law (one byte per sample)."""
    return _ALAW_ENCODE[_samples(pcm)].tobytes()


def ulaw_decode(data: bytes) -> bytes:
    """Decode µ-law to PCM16 little-endian."""
    return _ULAW_DECODE[np.frombuffer(data, dtype=np.uint8)].tobytes()


def alaw_decode(data: bytes) -> bytes:
    """Decode A-law to PCM16 little-endian."""
    return _ALAW_DECODE[np.frombuffer(data, dtype=np.uint8)].tobytes()
