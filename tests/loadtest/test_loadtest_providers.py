"""The load-test providers: present only when enabled, and honouring their latencies."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from providers import registry
from providers.base import Message, ProviderConfig, ProviderKind
from providers.builtin import load_all
from providers.loadtest import (
    ENABLE_VARIABLE,
    END_CALL,
    LoadTestLLM,
    LoadTestSTT,
    LoadTestTTS,
    voiced_pcm,
)
from providers.registry import InvalidOptions, UnknownVendor

# Generous enough never to flake on a loaded 2-core machine, tight enough to catch a latency
# that is not honoured (the smallest configured step below is 20 ms).
TOLERANCE_S = 0.015


@pytest.fixture
def enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENABLE_VARIABLE, "1")


def config(**options: object) -> ProviderConfig:
    return ProviderConfig(vendor="loadtest", options=dict(options))


def test_absent_from_the_catalog_unless_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    load_all()
    monkeypatch.delenv(ENABLE_VARIABLE, raising=False)
    for kind in ProviderKind:
        assert "loadtest" not in [info.vendor for info in registry.catalog(kind)]
        with pytest.raises(UnknownVendor):
            registry.build(kind, config())
    monkeypatch.setenv(ENABLE_VARIABLE, "0")
    assert "loadtest" not in [info.vendor for info in registry.catalog()]


@pytest.mark.usefixtures("enabled")
def test_present_and_built_when_enabled() -> None:
    load_all()
    for kind in ProviderKind:
        assert "loadtest" in [info.vendor for info in registry.catalog(kind)]
    assert isinstance(registry.build(ProviderKind.STT, config()), LoadTestSTT)
    assert isinstance(registry.build(ProviderKind.LLM, config()), LoadTestLLM)
    assert isinstance(registry.build(ProviderKind.TTS, config()), LoadTestTTS)
    with pytest.raises(InvalidOptions) as caught:
        registry.build(ProviderKind.TTS, config(ttfb_ms=-1))
    assert caught.value.option == "ttfb_ms"


async def test_stt_final_follows_end_of_speech_by_the_delay() -> None:
    stt = LoadTestSTT(config(stt_delay_ms=120, text="hello there"))
    await stt.connect()
    results = stt.transcripts()
    await stt.send_audio(bytes(640))
    for _ in range(2):
        start = time.monotonic()
        await stt.end_utterance()
        transcript = await anext(results)
        elapsed = time.monotonic() - start
        assert transcript.text == "hello there" and transcript.is_final
        assert 0.120 - 0.002 <= elapsed <= 0.120 + TOLERANCE_S
    assert stt.usage.audio_seconds == pytest.approx(0.02)
    await stt.close()
    with pytest.raises(StopAsyncIteration):
        await anext(results)


async def test_stt_close_cancels_a_pending_final() -> None:
    stt = LoadTestSTT(config(stt_delay_ms=50))
    await stt.end_utterance()
    await stt.close()
    assert [t async for t in stt.transcripts()] == []


async def test_llm_first_token_and_token_pace() -> None:
    llm = LoadTestLLM(config(first_token_ms=150, token_interval_ms=30, reply="one two three four"))
    start = time.monotonic()
    arrivals: list[tuple[str, float]] = []
    async for token in llm.stream([Message("user", "hi")], "prompt"):
        arrivals.append((token, time.monotonic() - start))
    assert "".join(t for t, _ in arrivals) == "one two three four"
    for i, (_, at) in enumerate(arrivals):
        expected = 0.150 + i * 0.030
        assert expected - 0.002 <= at <= expected + TOLERANCE_S, (i, at)


async def test_llm_ends_the_call_after_k_caller_turns() -> None:
    llm = LoadTestLLM(config(first_token_ms=0, token_interval_ms=0, end_call_after_turns=2))
    one = [Message("user", "a")]
    two = [*one, Message("assistant", "b"), Message("user", "c")]
    assert END_CALL not in "".join([t async for t in llm.stream(one, "")])
    reply = "".join([t async for t in llm.stream(two, "")])
    assert reply.endswith(" " + END_CALL)
    default = LoadTestLLM(config())
    assert len(default.tokens(one)) == 14  # two sentences of seven words


async def test_tts_first_audio_after_ttfb_then_the_configured_length() -> None:
    tts = LoadTestTTS(config(ttfb_ms=80, seconds_per_sentence=0.5))
    start = time.monotonic()
    chunks = []
    first_at = None
    async for chunk in tts.synthesize("A sentence."):
        if first_at is None:
            first_at = time.monotonic() - start
        chunks.append(chunk)
    assert first_at is not None and 0.080 - 0.002 <= first_at <= 0.080 + TOLERANCE_S
    assert len(chunks) == 25
    assert {c.sample_rate for c in chunks} == {24000}
    assert {len(c.pcm) for c in chunks} == {960}  # 20 ms at 24 kHz, 16-bit


def test_tts_signal_is_voiced_not_silence_or_a_tone() -> None:
    samples = np.frombuffer(voiced_pcm(50), "<i2").astype(np.float64)
    rms = float(np.sqrt(np.mean(samples**2)))
    assert rms > 2000  # well above silence (about -24 dBFS)
    spectrum = np.abs(np.fft.rfft(samples))
    freqs = np.fft.rfftfreq(len(samples), 1 / 24000)
    voice_band = spectrum[(freqs >= 100) & (freqs <= 3400)].sum()
    assert voice_band / spectrum.sum() > 0.9  # energy where telephone speech is
    assert (freqs[spectrum > spectrum.max() / 10] > 200).any()  # harmonics, not one tone


async def test_tts_ttfb_holds_with_many_concurrent_requests() -> None:
    tts = LoadTestTTS(config(ttfb_ms=100, seconds_per_sentence=0.2))

    async def first_audio() -> float:
        start = time.monotonic()
        async for _ in tts.synthesize("x"):
            return time.monotonic() - start
        raise AssertionError("no audio")

    delays = await asyncio.gather(*(first_audio() for _ in range(50)))
    assert max(delays) <= 0.100 + 3 * TOLERANCE_S
    assert min(delays) >= 0.098
