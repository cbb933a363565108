"""G.711 bit-exactness against CPython 3.11's audioop (the oracle, tests only)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from media.codec import decode_to_pcm, encode_from_pcm, silence
from media.formats import ALAW_8K, SLIN_8K, SLIN_16K, ULAW_8K
from media.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

ALL_SAMPLES = np.arange(-32768, 32768, dtype="<i2").tobytes()
ALL_CODES = bytes(range(256))


def test_ulaw_encode_matches_audioop_for_every_sample() -> None:
    assert ulaw_encode(ALL_SAMPLES) == audioop.lin2ulaw(ALL_SAMPLES, 2)


def test_alaw_encode_matches_audioop_for_every_sample() -> None:
    assert alaw_encode(ALL_SAMPLES) == audioop.lin2alaw(ALL_SAMPLES, 2)


def test_ulaw_decode_matches_audioop_for_every_code() -> None:
    assert ulaw_decode(ALL_CODES) == audioop.ulaw2lin(ALL_CODES, 2)


def test_alaw_decode_matches_audioop_for_every_code() -> None:
    assert alaw_decode(ALL_CODES) == audioop.alaw2lin(ALL_CODES, 2)


@pytest.mark.parametrize(
    ("sample", "ulaw", "alaw"),
    [
        (0, 0xFF, 0xD5),
        (100, 0xF2, 0xD3),
        (-1000, 0x4E, 0x7A),
        (4096, 0xAF, 0x85),
        (-16384, 0x0F, 0x3A),
        (32767, 0x80, 0xAA),
        (-32768, 0x00, 0x2A),
    ],
)
def test_protocol_reference_vectors(sample: int, ulaw: int, alaw: int) -> None:
    pcm = sample.to_bytes(2, "little", signed=True)
    assert ulaw_encode(pcm) == bytes([ulaw])
    assert alaw_encode(pcm) == bytes([alaw])


def test_reencoding_a_decoded_code_gives_the_same_code() -> None:
    # -0 (0x7F) decodes to 0 which encodes as +0 (0xFF): the one µ-law code that is not stable.
    expected = bytearray(ALL_CODES)
    expected[0x7F] = 0xFF
    assert ulaw_encode(ulaw_decode(ALL_CODES)) == bytes(expected)
    assert alaw_encode(alaw_decode(ALL_CODES)) == ALL_CODES


def test_odd_pcm_is_rejected() -> None:
    with pytest.raises(ValueError, match="even"):
        ulaw_encode(b"\x00\x01\x02")


def test_codec_dispatch_and_silence() -> None:
    pcm = np.arange(-800, 800, 10, dtype="<i2").tobytes()
    assert encode_from_pcm(pcm, ULAW_8K) == audioop.lin2ulaw(pcm, 2)
    assert encode_from_pcm(pcm, ALAW_8K) == audioop.lin2alaw(pcm, 2)
    assert encode_from_pcm(pcm, SLIN_16K) == pcm
    assert decode_to_pcm(b"\xff\xd5", ULAW_8K) == audioop.ulaw2lin(b"\xff\xd5", 2)
    assert decode_to_pcm(b"\xff\xd5", ALAW_8K) == audioop.alaw2lin(b"\xff\xd5", 2)
    assert decode_to_pcm(pcm, SLIN_8K) == pcm
    assert silence(ULAW_8K, 3) == b"\xff\xff\xff"
    assert silence(ALAW_8K, 2) == b"\xd5\xd5"
    assert silence(SLIN_8K, 4) == bytes(4)
    assert decode_to_pcm(silence(ULAW_8K, 160), ULAW_8K) == bytes(320)
