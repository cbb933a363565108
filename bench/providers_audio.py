"""Telephone-quality test speech: piper speech passed through 8 kHz µ-law and back to 16 kHz.

Shared by the provider benchmarks and the provider tests so both hear the same line.
"""

from __future__ import annotations

import numpy as np
from piper import SynthesisConfig

from media.g711 import ulaw_decode, ulaw_encode
from media.resample import StreamResampler
from providers.tts.piper import _VOICE_PATHS, DEFAULT_SAMPLE_RATE, DEFAULT_VOICE
from providers.tts.piper_worker import load_voice

TELEPHONE_RATE = 8000
STT_RATE = 16000


# Piper samples noise into pitch and durations; zero noise makes test speech reproducible.
_REPRODUCIBLE = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)


def piper_speech(text: str, gain: float = 1.0) -> bytes:
    """`text` spoken by the default piper voice (22.05 kHz PCM16, reproducible), times `gain`."""
    voice = load_voice(_VOICE_PATHS[DEFAULT_VOICE])
    pcm = b"".join(chunk.audio_int16_bytes for chunk in voice.synthesize(text, _REPRODUCIBLE))
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) * gain
    return bytes(np.clip(samples, -32768, 32767).astype(np.int16).tobytes())


def through_telephone(pcm: bytes, rate: int = DEFAULT_SAMPLE_RATE) -> bytes:
    """PCM16 at `rate` as a µ-law 8 kHz line delivers it, upsampled to 16 kHz for STT."""
    down = StreamResampler(rate, TELEPHONE_RATE)
    narrowband = down.process(pcm) + down.flush()
    line = ulaw_decode(ulaw_encode(narrowband))
    up = StreamResampler(TELEPHONE_RATE, STT_RATE)
    return up.process(line) + up.flush()


def telephone_speech(text: str, gain: float = 1.0) -> bytes:
    """Piper speech for `text` as heard by the STT at the far end of a µ-law call (16 kHz)."""
    return through_telephone(piper_speech(text, gain))
