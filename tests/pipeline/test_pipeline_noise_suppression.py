"""Per-agent noise suppression on a simulated call: with it on, the line's steady noise
reaches the recognizer (and the VAD, which reads the same audio) attenuated; off, as it was."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.noise_suppression import NoiseSuppression, WebRtcSuppressor
from tests.fakes.fake_providers import FakeSTT
from tests.pipeline.harness import agent_settings, make_call, until

NOISE_S = 2.0
# Hiss at about -30 dBFS, the level of a poor mobile line's background.
NOISE_STD = 1000.0
# The suppressor learns the noise in its first few hundred ms; judge the last second.
SETTLED_S = 1.0


class RecordingSTT(FakeSTT):
    """Keeps every byte of caller audio the call sends it."""

    def __init__(self) -> None:
        super().__init__()
        self.received = bytearray()

    async def send_audio(self, pcm: bytes) -> None:
        self.received += pcm
        await super().send_audio(pcm)


def hiss(seconds: float, rate: int) -> bytes:
    noise = np.random.default_rng(7).normal(0, NOISE_STD, int(rate * seconds))
    return bytes(np.clip(noise, -32768, 32767).astype("<i2").tobytes())


def rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples**2)))


# Level 1 takes white hiss about 6.5 dB down: off it passes about unchanged, on 3 dB down or more.
@pytest.mark.parametrize(
    ("setting", "low", "high"),
    [(NoiseSuppression.OFF, 0.8, 1.2), (NoiseSuppression.WEBRTC, 0.0, 0.7)],
)
async def test_steady_noise_reaches_the_recognizer_attenuated_only_with_suppression_on(
    setting: NoiseSuppression, low: float, high: float
) -> None:
    stt = RecordingSTT()
    call = make_call(agent=agent_settings(noise_suppression=setting), stt=stt)
    await call.start()
    call.leg.say(hiss(NOISE_S, call.leg.format.sample_rate))
    heard_ms = 1000 * NOISE_S - 100  # what a suppressor still holds may never come out
    await until(lambda: stt.audio_ms >= heard_ms, wait_s=10, what="the noise at the STT")
    await call.end()
    settled = bytes(stt.received[-int(SETTLED_S * stt.sample_rate) * 2 :])
    ratio = rms(settled) / NOISE_STD
    assert low <= ratio <= high, ratio


def test_the_suppressor_gives_back_about_what_it_is_given_at_the_lines_rate() -> None:
    suppressor = WebRtcSuppressor(8000)
    frame = hiss(0.02, 8000)
    out = b"".join(suppressor.process(frame) for _ in range(50))
    # One second in; all but what the 10 ms chunking and the resamplers hold comes out.
    assert 16000 - 2 * 160 <= len(out) <= 16000
