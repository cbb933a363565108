"""The decoder every cloud TTS vendor shares: any split of the byte stream gives the same PCM."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from media.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from providers.base import ProviderError
from providers.tts.streaming import PcmDecoder, WireAudio, WireEncoding
from tests.fakes.tts_server import tone_pcm, wav_header

PCM = tone_pcm(8000, 0.05)
PCM16_8K = WireAudio(WireEncoding.PCM16, 8000)


def decode_in_pieces(decoder: PcmDecoder, data: bytes, cuts: list[int]) -> bytes:
    """Feed `data` cut at `cuts` (sorted offsets); return all PCM16 out, with the tail."""
    out = []
    start = 0
    for cut in [*sorted(set(cuts)), len(data)]:
        piece = data[start:cut]
        out.append(decoder.feed(piece))
        # Whatever comes out is whole samples, never a half.
        assert len(out[-1]) % 2 == 0
        start = cut
    out.append(decoder.finish())
    return b"".join(out)


cut_lists = st.lists(st.integers(min_value=0, max_value=len(PCM) + 200), max_size=30)


@given(cut_lists)
def test_raw_pcm16_any_split(cuts: list[int]) -> None:
    decoder = PcmDecoder("test", PCM16_8K)
    assert decode_in_pieces(decoder, PCM, cuts) == PCM


@given(cut_lists)
def test_ulaw_any_split(cuts: list[int]) -> None:
    wire = ulaw_encode(PCM)
    decoder = PcmDecoder("test", WireAudio(WireEncoding.ULAW, 8000))
    assert decode_in_pieces(decoder, wire, cuts) == ulaw_decode(wire)


@given(cut_lists)
def test_alaw_any_split(cuts: list[int]) -> None:
    wire = alaw_encode(PCM)
    decoder = PcmDecoder("test", WireAudio(WireEncoding.ALAW, 8000))
    assert decode_in_pieces(decoder, wire, cuts) == alaw_decode(wire)


@given(cut_lists, st.binary(max_size=9))
def test_wav_header_stripped_at_any_split(cuts: list[int], label: bytes) -> None:
    # A metadata chunk of any (odd or even) length before `data`, padded as RIFF requires.
    padding = b"\x00" if len(label) % 2 else b""
    extra = b"LIST" + struct.pack("<I", len(label)) + label + padding
    stream = wav_header(16000, 1, 16, extra_chunk=extra) + PCM
    decoder = PcmDecoder("test", PCM16_8K)
    assert decode_in_pieces(decoder, stream, cuts) == PCM
    assert decoder.sample_rate == 16000


@given(cut_lists)
def test_ulaw_wav_switches_encoding(cuts: list[int]) -> None:
    wire = ulaw_encode(PCM)
    decoder = PcmDecoder("test", PCM16_8K)
    assert decode_in_pieces(decoder, wav_header(8000, 7, 8) + wire, cuts) == ulaw_decode(wire)
    assert decoder.encoding is WireEncoding.ULAW


def test_audio_shorter_than_a_wav_prefix_is_still_played() -> None:
    decoder = PcmDecoder("test", PCM16_8K)
    assert decoder.feed(PCM[:6]) == b""
    assert decoder.finish() == PCM[:6]


def test_lone_trailing_byte_is_dropped() -> None:
    decoder = PcmDecoder("test", PCM16_8K)
    assert decoder.feed(PCM[:13]) == PCM[:12]
    assert decoder.finish() == b""


@pytest.mark.parametrize(
    ("tag", "bits", "channels"),
    [(3, 32, 1), (1, 24, 1), (1, 16, 2)],
    ids=["float", "24bit", "stereo"],
)
def test_unsupported_wav_is_refused(tag: int, bits: int, channels: int) -> None:
    header = bytearray(wav_header(8000, tag, bits))
    struct.pack_into("<H", header, 22, channels)
    decoder = PcmDecoder("test", PCM16_8K)
    with pytest.raises(ProviderError, match="test:") as caught:
        decoder.feed(bytes(header) + PCM)
    assert caught.value.retryable is False


def test_stream_ending_inside_the_header_is_an_error() -> None:
    decoder = PcmDecoder("test", PCM16_8K)
    assert decoder.feed(wav_header(8000, 1, 16)[:30]) == b""
    with pytest.raises(ProviderError, match="inside its WAV header"):
        decoder.finish()
