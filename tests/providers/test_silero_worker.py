"""Silero VAD for calls, in the local workers: judged by the worker, by webrtcvad until it
answers and after it is lost."""

from __future__ import annotations

import asyncio
import os
import signal

import numpy as np
import pytest
import webrtcvad

from media.vad import VAD_PROFILES, BargeInSensitivity
from providers.local import shared
from providers.vad.local import PooledSileroClassifier, call_classifier
from providers.vad.silero import VadEngine

pytestmark = pytest.mark.slow

MEDIUM = VAD_PROFILES[BargeInSensitivity.MEDIUM]
FRAME = 320  # 20 ms at 8 kHz


def traffic_frames(seconds: float) -> list[bytes]:
    """White noise swelling and fading four times a second (webrtcvad calls it speech)."""
    t = np.arange(int(8000 * seconds)) / 8000
    noise = np.random.default_rng(2).normal(0, 0.15, len(t)) * (0.5 + 0.5 * np.sin(8 * np.pi * t))
    pcm = (np.clip(noise, -1, 1) * 32767).astype(np.int16).tobytes()
    return [pcm[i : i + FRAME] for i in range(0, len(pcm) - FRAME + 1, FRAME)]


async def judge(classifier: PooledSileroClassifier, frames: list[bytes]) -> list[bool]:
    """Each frame's decision, at the line's pace."""
    said = []
    for frame in frames:
        said.append(classifier.is_speech(frame, 8000))
        await asyncio.sleep(0.02)
    return said


def test_webrtc_needs_no_classifier() -> None:
    assert call_classifier(VadEngine.WEBRTC, 8000, MEDIUM) is None


async def test_the_worker_judges_and_webrtcvad_takes_over_when_it_is_lost() -> None:
    pool = await shared.start(1)
    classifier = call_classifier(VadEngine.SILERO, 8000, MEDIUM)
    assert classifier is not None
    try:
        frames = traffic_frames(0.1)
        assert classifier.probability is None  # before the worker's first answer: webrtcvad
        assert classifier.is_speech(frames[0], 8000) is webrtcvad.Vad(2).is_speech(frames[0], 8000)
        await judge(classifier, frames[1:])
        assert classifier.probability is not None
        assert not any(await judge(classifier, traffic_frames(1.0)))

        pid = pool.stats().workers[0].pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        await judge(classifier, traffic_frames(0.5))
        assert classifier.probability is None  # lost: webrtcvad decides again
        assert sum(await judge(classifier, traffic_frames(1.0))) > 25
    finally:
        await classifier.close()
        await shared.stop()
