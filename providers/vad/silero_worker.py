"""Silero VAD in a local worker: one model state per session, speech probabilities per frame."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from media.formats import FRAME_MS
from providers.local.handler import Handler, Item, Session
from providers.vad.silero import SileroFrameClassifier

RATES = (8000, 16000)


class SileroSession(Session):
    """One call's detector: `feed` takes whole 20 ms PCM16 frames and answers each frame's
    speech probability (float32), in order."""

    def __init__(self, sample_rate: int) -> None:
        self._classifier = SileroFrameClassifier(sample_rate, threshold=0.5)
        self._rate = sample_rate
        self._frame_bytes = sample_rate * FRAME_MS // 1000 * 2

    def handle(self, op: str, data: bytes, args: dict[str, Any]) -> Iterator[Item]:
        if op != "feed":
            raise ValueError(f"silero: unknown operation {op!r}")
        if len(data) % self._frame_bytes:
            raise ValueError(f"silero: feed whole {self._frame_bytes}-byte frames")
        size = self._frame_bytes
        probabilities = np.empty(len(data) // size, dtype=np.float32)
        for i in range(len(probabilities)):
            self._classifier.is_speech(data[i * size : (i + 1) * size], self._rate)
            probabilities[i] = self._classifier.probability
        yield Item(data=probabilities.tobytes())


class SileroHandler(Handler):
    """Opens detector sessions; options: `sample_rate` (8000 or 16000)."""

    def load(self) -> None:
        SileroFrameClassifier(8000, threshold=0.5)  # loads the library and its model once

    def open(self, options: dict[str, Any]) -> Session:
        rate = options.get("sample_rate")
        if rate not in RATES:
            raise ValueError(f"silero runs at 8000 or 16000 Hz, not {rate}")
        return SileroSession(int(rate))
