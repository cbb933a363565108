"""Silero VAD for a call, run in the local worker pool so the model never holds the loop.

The VAD is asked frame by frame and cannot wait for a worker, so each frame is sent off and
called speech by the newest probability the worker has answered: the frame before, since a
reply comes back well within a frame's 20 ms (frames queued while a reply is outstanding go
in one batch). Until the worker's first answer, and for the rest of the call if the worker
is lost, webrtcvad decides.
"""

from __future__ import annotations

import asyncio
import contextlib

import numpy as np
import structlog
import webrtcvad

from media.vad import FrameClassifier, VadProfile
from providers.base import ProviderError
from providers.local import shared
from providers.local.pool import LocalSession
from providers.vad.silero import SILERO_THRESHOLDS, VadEngine

log = structlog.get_logger(__name__)


class PooledSileroClassifier:
    """Speech / not speech per 20 ms PCM16 frame by Silero in a local worker."""

    def __init__(self, sample_rate: int, threshold: float, fallback: FrameClassifier) -> None:
        self._rate = sample_rate
        self._threshold = threshold
        self._fallback = fallback
        self._queued = bytearray()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session: LocalSession | None = None
        self._lost = False
        self.probability: float | None = None  # the worker's latest answer

    def is_speech(self, frame: bytes, sample_rate: int) -> bool:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="silero-vad")
        if not self._lost:
            self._queued += frame
            self._wake.set()
        if self.probability is None:
            return bool(self._fallback.is_speech(frame, sample_rate))
        return self.probability >= self._threshold

    async def _run(self) -> None:
        try:
            pool = await shared.start()
            self._session = await pool.open("silero", sample_rate=self._rate)
            while True:
                await self._wake.wait()
                self._wake.clear()
                batch = bytes(self._queued)
                self._queued.clear()
                replies = await self._session.call("feed", batch)
                answers = np.frombuffer(b"".join(r.data for r in replies), dtype=np.float32)
                if len(answers):
                    self.probability = float(answers[-1])
        except ProviderError as exc:
            log.warning("silero_vad_lost", error=str(exc))
            self._lost = True
            self.probability = None
            self._queued.clear()

    async def close(self) -> None:
        """Stop sending frames and release the worker's model state."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._session is not None:
            await self._session.close()


def call_classifier(
    engine: VadEngine, sample_rate: int, profile: VadProfile
) -> PooledSileroClassifier | None:
    """The agent's frame classifier for one call: None for webrtcvad (media's default)."""
    if engine is not VadEngine.SILERO:
        return None
    fallback = webrtcvad.Vad(profile.aggressiveness)
    return PooledSileroClassifier(sample_rate, SILERO_THRESHOLDS[profile.aggressiveness], fallback)
