"""Silero VAD behind media's detector interface, on piper speech and on noise."""

from __future__ import annotations

import numpy as np
import pytest

from bench.providers_audio import telephone_speech
from media.formats import SLIN_16K
from media.vad import (
    VAD_PROFILES,
    BargeInSensitivity,
    SpeechEnded,
    SpeechStarted,
    VoiceActivityDetector,
)
from pipeline.inbound import InboundAudio
from providers.vad.silero import (
    SileroFrameClassifier,
    SileroVoiceActivityDetector,
    VadEngine,
    create_vad,
)

MEDIUM = VAD_PROFILES[BargeInSensitivity.MEDIUM]
FRAME = 640  # 20 ms at 16 kHz


def events(vad: VoiceActivityDetector, pcm: bytes) -> list[SpeechStarted | SpeechEnded]:
    found = []
    for start in range(0, len(pcm) - FRAME + 1, FRAME):
        event = vad.process(pcm[start : start + FRAME])
        if event is not None:
            found.append(event)
    return found


def traffic_noise(seconds: float, seed: int = 1) -> bytes:
    """White noise swelling and fading four times a second, like passing traffic."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    noise = rng.normal(0, 0.15, len(t)) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t))
    return bytes((np.clip(noise, -1, 1) * 32767).astype(np.int16).tobytes())


def mains_hum(seconds: float) -> bytes:
    """150 Hz hum with its harmonics, as a bad analogue line carries."""
    t = np.arange(int(16000 * seconds)) / 16000
    hum = np.zeros_like(t)
    for k in range(1, 8):
        hum += 0.05 * np.sin(2 * np.pi * 150 * k * t) / k
    return bytes((hum * 32767).astype(np.int16).tobytes())


@pytest.mark.slow
def test_detects_speech_onset_and_end() -> None:
    speech = telephone_speech("I would like to book an appointment for tomorrow.", 0.3)
    silence = bytes(16000 * 2)  # one second
    found = events(create_vad(VadEngine.SILERO, 16000, MEDIUM), silence + speech + silence)
    assert [type(e) for e in found] == [SpeechStarted, SpeechEnded]
    speech_ms = len(speech) // 32
    assert 900 <= found[0].at_ms <= 1300
    assert 1000 + speech_ms - 400 <= found[1].at_ms <= 1000 + speech_ms + 200


@pytest.mark.parametrize("noise", [traffic_noise(3.0), mains_hum(3.0)], ids=["traffic", "hum"])
def test_noise_that_fools_webrtcvad_is_not_speech_to_silero(noise: bytes) -> None:
    assert events(create_vad("webrtc", 16000, MEDIUM), noise) != []
    assert events(create_vad("silero", 16000, MEDIUM), noise) == []


def test_runs_at_8khz_too() -> None:
    vad = SileroVoiceActivityDetector(8000, MEDIUM)
    assert vad.process(bytes(320)) is None
    assert vad.classifier.probability < 0.1


def test_default_engine_is_webrtcvad() -> None:
    vad = create_vad("webrtc", 16000, MEDIUM)
    assert type(vad) is VoiceActivityDetector
    with pytest.raises(ValueError, match="'nope' is not a valid VadEngine"):
        create_vad("nope", 16000, MEDIUM)


@pytest.mark.parametrize(("engine", "counts_noise"), [("webrtc", True), ("silero", False)])
def test_the_callers_voiced_time_is_judged_by_the_agents_engine(
    engine: str, counts_noise: bool
) -> None:
    """Barge-in counts the caller's voiced time: Silero's call, not webrtcvad's, when chosen."""
    classifier = SileroFrameClassifier(16000, 0.5) if engine == "silero" else None
    inbound = InboundAudio(SLIN_16K, MEDIUM, 16000, classifier=classifier)
    noise = traffic_noise(3.0)
    for start in range(0, len(noise) - FRAME + 1, FRAME):
        inbound.process(noise[start : start + FRAME])
    assert (inbound.voiced_ms > 500) is counts_noise, inbound.voiced_ms
