"""Caller recordings: short phrases spoken by the offline Piper voice, 8 kHz telephone audio.

Synthesized at first use and kept as WAV files under `<data dir>/cache/<cache name>/`, so
the repository carries no audio and later runs start at once.
"""

from __future__ import annotations

import hashlib
import os
import wave
from pathlib import Path
from typing import Final

import numpy as np
import soxr

PHONE_RATE: Final = 8000

# What simulated callers say: each a few seconds, the kind of thing callers ask an agent.
CALLER_PHRASES: Final = (
    "Hi, I would like to know your opening hours please.",
    "How much does a haircut cost?",
    "Can I book an appointment for tomorrow morning?",
    "Where exactly are you located?",
    "Okay, thank you very much, that's all for today.",
)


# A 20 ms frame quieter than this (RMS, of 32767) is silence when trimming a recording's ends.
_TRIM_RMS: Final = 300.0
_FRAME_SAMPLES: Final = PHONE_RATE // 50


def trim_silence(pcm: bytes) -> bytes:
    """`pcm` without its leading and trailing silent 20 ms frames (speech starts and ends at
    the edges, so a caller's "stops speaking" is the end of the buffer)."""
    samples = np.frombuffer(pcm, "<i2")
    frames = len(samples) // _FRAME_SAMPLES
    if not frames:
        return pcm
    blocks = samples[: frames * _FRAME_SAMPLES].astype(np.float64).reshape(frames, -1)
    voiced = np.flatnonzero(np.sqrt((blocks**2).mean(axis=1)) >= _TRIM_RMS)
    if not len(voiced):
        return b""
    start, end = int(voiced[0]) * _FRAME_SAMPLES, (int(voiced[-1]) + 1) * _FRAME_SAMPLES
    return bytes(samples[start:end].tobytes())


def _path(cache_dir: Path, text: str) -> Path:
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return cache_dir / f"caller-{digest}.wav"


def _read(path: Path) -> bytes:
    with wave.open(str(path), "rb") as wav:
        if wav.getframerate() != PHONE_RATE or wav.getsampwidth() != 2 or wav.getnchannels() != 1:
            raise ValueError(f"{path} is not 8 kHz 16-bit mono")
        return wav.readframes(wav.getnframes())


def _write(path: Path, pcm: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # A name of this process's own: test workers and load tests may write the same phrase.
    partial = path.with_name(f"{path.stem}.{os.getpid()}.part")
    with wave.open(str(partial), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(PHONE_RATE)
        wav.writeframes(pcm)
    partial.replace(path)


async def synthesize_phone_audio(text: str) -> bytes:
    """`text` spoken by the default Piper voice as slin 8 kHz LE (takes a second or so)."""
    # Imported here: loading Piper's runtime costs a second that a cached run never needs.
    from providers.base import ProviderConfig
    from providers.tts.piper import PiperTTS

    tts = PiperTTS(ProviderConfig(vendor="piper"))
    await tts.connect()
    pieces = bytearray()
    rate = tts.sample_rate
    try:
        async for chunk in tts.synthesize(text):
            pieces += chunk.pcm
            rate = chunk.sample_rate
    finally:
        await tts.close()
    samples = np.frombuffer(bytes(pieces), "<i2")
    phone = soxr.resample(samples, rate, PHONE_RATE).astype("<i2").tobytes()
    return trim_silence(bytes(phone))


async def caller_phrases(cache_dir: Path, texts: tuple[str, ...] = CALLER_PHRASES) -> list[bytes]:
    """Each of `texts` as slin 8 kHz LE, from the cache or synthesized into it."""
    phrases = []
    for text in texts:
        path = _path(cache_dir, text)
        if not path.is_file():
            _write(path, await synthesize_phone_audio(text))
        phrases.append(_read(path))
    return phrases
