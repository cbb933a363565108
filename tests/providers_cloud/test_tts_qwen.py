"""Qwen realtime TTS against the local fake speaking the Qwen-TTS-Realtime event protocol."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator

import pytest
from structlog.testing import capture_logs

from providers.base import ProviderConfig, ProviderError, TTSProvider
from providers.registry import build
from providers.tts.qwen import QwenTTS
from tests.fakes.qwen_tts import FakeQwenTTS
from tests.providers_cloud import tts_checks


@pytest.fixture
async def fake() -> AsyncIterator[FakeQwenTTS]:
    server = FakeQwenTTS()
    await server.start()
    yield server
    await server.stop()


def maker(fake: FakeQwenTTS, **options: object) -> tts_checks.MakeProvider:
    def make(api_key: str | None) -> TTSProvider:
        config = ProviderConfig(
            vendor="qwen",
            api_key=api_key,
            voice="Ethan",
            options={"base_url": fake.base_url, "read_timeout": 5.0, **options},
        )
        provider = build("tts", config)
        assert isinstance(provider, QwenTTS)
        return provider

    return make


async def test_streams_8k_pcm(fake: FakeQwenTTS) -> None:
    await tts_checks.check_streams(maker(fake, language_type="English"), fake, 8000, "pcm16")
    (request,) = fake.requests
    assert request.query == {"model": "qwen3-tts-flash-realtime"}
    assert fake.session_updates == [
        {
            "voice": "Ethan",
            "mode": "commit",
            "language_type": "English",
            "response_format": "pcm",
            "sample_rate": 8000,
        }
    ]
    assert fake.committed == [tts_checks.TEXT]


async def test_qwen_tts_realtime_gets_24k_and_no_speech_rate(fake: FakeQwenTTS) -> None:
    def make(api_key: str | None) -> TTSProvider:
        config = ProviderConfig(
            vendor="qwen",
            api_key=api_key,
            model="qwen-tts-realtime",
            voice="Cherry",
            options={"base_url": fake.base_url, "speech_rate": 1.2, "read_timeout": 5.0},
        )
        provider = build("tts", config)
        assert isinstance(provider, QwenTTS)
        return provider

    await tts_checks.check_streams(make, fake, 24000, "pcm16")
    (update,) = fake.session_updates
    assert update["sample_rate"] == 24000
    assert "speech_rate" not in update


async def test_a_refused_key_names_the_other_region(fake: FakeQwenTTS) -> None:
    provider = maker(fake)("sk-beijing")
    try:
        with pytest.raises(ProviderError, match="belong to one region") as caught:
            await tts_checks.collect(provider)
    finally:
        await provider.close()
    assert caught.value.retryable is False


async def test_one_session_serves_every_sentence(fake: FakeQwenTTS) -> None:
    provider = maker(fake)(fake.api_key)
    try:
        await provider.connect()
        first, _ = await tts_checks.collect(provider, "Hello.")
        second, _ = await tts_checks.collect(provider, "Goodbye.")
    finally:
        await provider.close()
    assert first and second
    assert len(fake.requests) == 1
    assert fake.committed == ["Hello.", "Goodbye."]


async def test_abandoned_sentence_drops_the_session(fake: FakeQwenTTS) -> None:
    provider = maker(fake)(fake.api_key)
    try:
        speech = provider.synthesize("Long answer.")
        assert isinstance(speech, AsyncGenerator)
        await anext(speech)
        await speech.aclose()  # barge-in: the rest of this audio must not leak into the next
        chunks, _ = await tts_checks.collect(provider, "Short.")
    finally:
        await provider.close()
    pcm = b"".join(chunk.pcm for chunk in chunks)
    assert pcm == tts_checks.expected_pcm(fake, 8000, "pcm16")
    assert len(fake.requests) == 2


async def test_bad_key(fake: FakeQwenTTS) -> None:
    await tts_checks.check_bad_key(maker(fake), fake)


async def test_429_retried(fake: FakeQwenTTS) -> None:
    await tts_checks.check_429_retried(maker(fake), fake)


async def test_mid_stream_disconnect_then_reconnects(fake: FakeQwenTTS) -> None:
    await tts_checks.check_disconnect(maker(fake), fake)


async def test_session_error_event_is_final(fake: FakeQwenTTS) -> None:
    fake.session_error = "invalid_value"
    provider = maker(fake)(fake.api_key)
    with pytest.raises(ProviderError, match="invalid_value") as caught:
        await tts_checks.collect(provider)
    await provider.close()
    assert caught.value.retryable is False
    assert len(fake.requests) == 1


async def test_throttling_event_is_retried(fake: FakeQwenTTS) -> None:
    fake.session_error = "Throttling"
    provider = maker(fake)(fake.api_key)
    chunks, _ = await tts_checks.collect(provider)
    await provider.close()
    assert chunks
    assert len(fake.requests) == 2


async def test_check_credentials(fake: FakeQwenTTS) -> None:
    await tts_checks.check_credentials(maker(fake), fake)


async def test_abandoned_mid_stream_returns_at_once(fake: FakeQwenTTS) -> None:
    await tts_checks.check_abandon(maker(fake), fake)


async def test_close_while_speaking_drops_the_session_at_once(fake: FakeQwenTTS) -> None:
    fake.chunk_delay = 0.4
    provider = maker(fake)(fake.api_key)
    speech = provider.synthesize(tts_checks.TEXT)
    await anext(speech)
    started = time.monotonic()
    await provider.close()
    assert time.monotonic() - started < 0.3
    with pytest.raises(ProviderError, match="closed mid-stream"):
        await anext(speech)


async def test_session_closed_while_idle_is_replaced_without_a_retry(fake: FakeQwenTTS) -> None:
    fake.close_after_response = True
    provider = maker(fake)(fake.api_key)
    try:
        await tts_checks.collect(provider, "Hello.")
        await asyncio.sleep(0.05)  # the server's close arrives while the call is quiet
        with capture_logs() as logs:
            chunks, _ = await tts_checks.collect(provider, "Again.")
    finally:
        await provider.close()
    assert chunks
    assert len(fake.requests) == 2
    assert not [entry for entry in logs if entry["event"] == "provider_retry"]
