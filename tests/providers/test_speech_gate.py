"""The speech gate in front of the local recognizer."""

from __future__ import annotations

import pytest

from bench.providers_audio import telephone_speech
from providers.stt.speech_gate import SpeechGate


def push_in_odd_chunks(gate: SpeechGate, pcm: bytes, out: bytearray, size: int = 333 * 2) -> None:
    for start in range(0, len(pcm), size):
        gate.push(pcm[start : start + size], out)


def test_silence_is_dropped() -> None:
    gate, out = SpeechGate(16000), bytearray()
    push_in_odd_chunks(gate, bytes(32000 * 3), out)
    assert out == b"" and not gate.open


@pytest.mark.slow
def test_speech_passes_with_preroll_and_hangover() -> None:
    gate, out = SpeechGate(16000, preroll_ms=300, hangover_ms=600), bytearray()
    speech = telephone_speech("Can you tell me the price of a haircut?", 0.3)
    silence = bytes(32000 * 2)
    push_in_odd_chunks(gate, silence + speech + silence, out)
    # All of the speech, at most a preroll before and a hangover after (20 ms frames).
    assert len(speech) - 3200 <= len(out) <= len(speech) + 32 * (300 + 600 + 20)
    assert out.startswith(bytes(640 * 15)), "the preroll is the silence just before speech"
    assert gate.passed_bytes == len(out)
    assert not gate.open
