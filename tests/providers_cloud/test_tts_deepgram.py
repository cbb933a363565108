"""Deepgram Aura TTS against the local fake speaking its REST streaming protocol."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from providers.base import ProviderConfig, ProviderError, TTSProvider
from providers.registry import build
from providers.tts.deepgram import DeepgramTTS
from tests.fakes.deepgram_tts import FakeDeepgramTTS
from tests.fakes.tts_server import Failure
from tests.providers_cloud import tts_checks


@pytest.fixture
async def fake() -> AsyncIterator[FakeDeepgramTTS]:
    server = FakeDeepgramTTS()
    await server.start()
    yield server
    await server.stop()


def maker(fake: FakeDeepgramTTS, **options: object) -> tts_checks.MakeProvider:
    def make(api_key: str | None) -> TTSProvider:
        config = ProviderConfig(
            vendor="deepgram",
            api_key=api_key,
            voice="aura-2-helena-en",
            options={"base_url": fake.base_url, "read_timeout": 5.0, **options},
        )
        provider = build("tts", config)
        assert isinstance(provider, DeepgramTTS)
        return provider

    return make


async def test_streams_mulaw_8k_decoded_to_pcm(fake: FakeDeepgramTTS) -> None:
    await tts_checks.check_streams(maker(fake), fake, 8000, "ulaw")
    (request,) = fake.requests
    assert request.query == {
        "model": "aura-2-helena-en",
        "encoding": "mulaw",
        "sample_rate": "8000",
        "container": "none",
    }
    assert request.body == {"text": tts_checks.TEXT}


async def test_streams_linear16_with_split_samples(fake: FakeDeepgramTTS) -> None:
    await tts_checks.check_streams(maker(fake, output="linear16_16000"), fake, 16000, "pcm16")


async def test_bad_key(fake: FakeDeepgramTTS) -> None:
    await tts_checks.check_bad_key(maker(fake), fake)


async def test_429_retried(fake: FakeDeepgramTTS) -> None:
    await tts_checks.check_429_retried(maker(fake), fake)


async def test_retry_after(fake: FakeDeepgramTTS) -> None:
    await tts_checks.check_retry_after(maker(fake), fake)


async def test_mid_stream_disconnect(fake: FakeDeepgramTTS) -> None:
    await tts_checks.check_disconnect(maker(fake), fake)


async def test_check_credentials(fake: FakeDeepgramTTS) -> None:
    await tts_checks.check_credentials(maker(fake), fake)


async def test_connect_prewarms_the_connection(fake: FakeDeepgramTTS) -> None:
    await tts_checks.check_connect_prewarms(maker(fake), fake)


async def test_abandoned_mid_stream_returns_at_once(fake: FakeDeepgramTTS) -> None:
    await tts_checks.check_abandon(maker(fake), fake)


async def test_5xx_then_success(fake: FakeDeepgramTTS) -> None:
    fake.failures = [Failure(503), Failure(500)]
    chunks, _ = await tts_checks.collect(maker(fake)(fake.api_key))
    assert chunks
    assert len(fake.requests) == 3


async def test_gives_up_after_max_attempts(fake: FakeDeepgramTTS) -> None:
    fake.failures = [Failure(429, retry_after=0.0)] * 3
    provider = maker(fake, max_attempts=2)(fake.api_key)
    with pytest.raises(ProviderError, match="HTTP 429") as caught:
        await tts_checks.collect(provider)
    await provider.close()
    assert caught.value.retryable is True
    assert len(fake.requests) == 2
