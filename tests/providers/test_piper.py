"""Piper speaks: real synthesis with the bundled voice."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from providers.base import AudioChunk, ProviderConfig, ProviderError
from providers.local import shared
from providers.registry import ProviderConfigError, build
from providers.tts.piper import DEFAULT_SAMPLE_RATE, PiperTTS

pytestmark = pytest.mark.slow


async def voice(**options: object) -> PiperTTS:
    tts = build("tts", ProviderConfig(vendor="piper", options=options))
    assert isinstance(tts, PiperTTS)
    await tts.connect()
    return tts


def rms(chunks: list[AudioChunk]) -> float:
    samples = np.frombuffer(b"".join(c.pcm for c in chunks), dtype=np.int16)
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


async def test_speaks_each_sentence_at_native_rate() -> None:
    tts = await voice()
    text = "Thanks for calling. We are open from nine to six."
    chunks = [chunk async for chunk in tts.synthesize(text)]
    assert len(chunks) == 2, "one chunk per sentence"
    assert all(c.sample_rate == DEFAULT_SAMPLE_RATE for c in chunks)
    seconds = sum(len(c.pcm) for c in chunks) / 2 / DEFAULT_SAMPLE_RATE
    # Ten words at a conversational 2-4 words per second.
    assert 2.0 < seconds < 6.0
    assert rms(chunks) > 1000, "speech, not silence"
    assert tts.usage.characters == len(text)
    assert tts.usage.audio_seconds == pytest.approx(seconds)


async def test_slower_rate_gives_longer_audio() -> None:
    # Piper varies phoneme durations at random and pads each sentence with a fixed silence:
    # 1.5 times slower speech came out 1.28-1.43 times longer for five words.
    text = "One two three four five six seven eight nine ten."
    normal = [c async for c in (await voice()).synthesize(text)]
    slow = [c async for c in (await voice(length_scale=1.5)).synthesize(text)]
    assert sum(len(c.pcm) for c in slow) > 1.2 * sum(len(c.pcm) for c in normal)


async def test_blank_text_yields_nothing() -> None:
    tts = await voice()
    assert [c async for c in tts.synthesize("  ")] == []
    assert tts.usage.requests == 0


async def test_consumer_can_stop_early_without_waiting() -> None:
    tts = await voice()
    stream = tts.synthesize("First sentence here. " + "And then a much longer one. " * 8)
    first = await anext(stream)
    assert first.pcm
    async with asyncio.timeout(0.2):
        await stream.aclose()  # type: ignore[attr-defined]


def test_missing_model_path_rejected() -> None:
    with pytest.raises(ProviderConfigError, match="no voice model"):
        build("tts", ProviderConfig(vendor="piper", options={"model_path": "/nonexistent.onnx"}))


def test_unknown_voice_rejected() -> None:
    with pytest.raises(ProviderError, match="unknown voice 'nobody'"):
        build("tts", ProviderConfig(vendor="piper", voice="nobody"))


async def test_a_sentence_spoken_on_one_call_costs_the_next_call_no_synthesis() -> None:
    text = "Our next free slot is on Thursday at half past three."
    first_call, next_call = await voice(), await voice()
    first = [c async for c in first_call.synthesize(text)]
    pool = await shared.start()
    cpu_before = pool.stats().cpu_seconds
    again = [c async for c in next_call.synthesize(text)]
    # Piper samples noise into every synthesis: the same bytes are the first call's audio.
    assert b"".join(c.pcm for c in again) == b"".join(c.pcm for c in first)
    assert pool.stats().cpu_seconds == cpu_before, "no worker synthesized it again"
    assert next_call.usage.audio_seconds == pytest.approx(first_call.usage.audio_seconds)


async def test_a_text_cut_off_by_its_listener_is_not_kept() -> None:
    text = "A first sentence to hear. And a second one nobody waits for."
    tts = await voice()
    stream = tts.synthesize(text)
    await anext(stream)
    await stream.aclose()  # type: ignore[attr-defined]
    whole = [c async for c in tts.synthesize(text)]
    assert len(whole) == 2, "synthesized again, both sentences"


async def test_calls_that_want_a_text_together_synthesize_it_once() -> None:
    text = "Thank you for waiting, all our lines were busy a moment ago."
    calls = [await voice() for _ in range(3)]

    async def speak(tts: PiperTTS) -> bytes:
        return b"".join([c.pcm async for c in tts.synthesize(text)])

    heard = await asyncio.gather(*(speak(tts) for tts in calls))
    # Piper samples noise into every synthesis: equal audio is one synthesis shared.
    assert heard[0] and heard[0] == heard[1] == heard[2]
