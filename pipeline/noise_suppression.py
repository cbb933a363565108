"""Noise suppression of the caller's audio, before the VAD and the recognizer hear it.

Per agent (`noise_suppression`): `off`, or `webrtc`, WebRTC's noise suppressor from the
`webrtc-noise-gain` package (no model file; auto gain off). It works on 10 ms of 16 kHz
PCM16: an 8 kHz line goes up and back down through a short half-band filter (about 3 ms
there and back, where soxr's streaming filters would hold every frame 60 ms), any other rate
through soxr. It costs well under 0.1 ms of CPU per 20 ms frame (`bench.noise_suppression`),
so it runs on the event loop.
"""

from __future__ import annotations

from enum import StrEnum

from webrtc_noise_gain import AudioProcessor

from media.halfband import Downsample2, Upsample2
from media.resample import StreamResampler

# The suppressor's only rate, and the bytes of PCM16 it takes at a time (10 ms).
RATE = 16000
CHUNK_BYTES = RATE // 100 * 2
# WebRTC's suppression level (0-4). On the noisy half of the turn set 1 took as few
# backchannels for barge-ins as 2-4 (4 of 8 under the plain rule, 5 without) while delaying
# the end of a turn least: stronger levels leave bursts of residual noise that hold the VAD
# in speech (`silence` turns never ended: 3 at 1, 10 at 2, 15-17 at 3-4; 3 without).
LEVEL = 1
# Automatic gain control off (target 0 dBFS means off): the VAD's thresholds assume the
# caller's own level, and raising quiet noise would make it speech.
NO_AUTO_GAIN = 0


class NoiseSuppression(StrEnum):
    """What cleans an agent's caller audio before the VAD and the recognizer."""

    OFF = "off"
    WEBRTC = "webrtc"


class WebRtcSuppressor:
    """One call's suppressor: PCM16 at the line's rate in, the same rate out, a few ms later."""

    def __init__(self, sample_rate: int) -> None:
        self._processor = AudioProcessor(NO_AUTO_GAIN, LEVEL)
        self._up: Upsample2 | StreamResampler | None = None
        self._down: Downsample2 | StreamResampler | None = None
        if 2 * sample_rate == RATE:
            self._up, self._down = Upsample2(), Downsample2()
        elif sample_rate != RATE:
            self._up = StreamResampler(sample_rate, RATE)
            self._down = StreamResampler(RATE, sample_rate)
        self._pending = bytearray()

    def process(self, pcm: bytes) -> bytes:
        """Clean `pcm`; returns what is ready (about as much as went in)."""
        self._pending += self._up.process(pcm) if self._up is not None else pcm
        ready = len(self._pending) - len(self._pending) % CHUNK_BYTES
        chunks = bytes(self._pending[:ready])
        del self._pending[:ready]
        out = b"".join(
            self._processor.Process10ms(chunks[i : i + CHUNK_BYTES]).audio
            for i in range(0, ready, CHUNK_BYTES)
        )
        return self._down.process(out) if self._down is not None else out


def suppressor_for(setting: NoiseSuppression, sample_rate: int) -> WebRtcSuppressor | None:
    """The suppressor a call with `setting` runs on its line's audio (None: off)."""
    if setting is NoiseSuppression.WEBRTC:
        return WebRtcSuppressor(sample_rate)
    return None
