"""OpenAI speech against the local fake speaking its streamed-PCM protocol."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from providers.base import ProviderConfig, ProviderTimeout, TTSProvider
from providers.registry import build
from providers.tts.openai import OpenAITTS
from tests.fakes.openai_tts import FakeOpenAITTS
from tests.providers_cloud import tts_checks


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAITTS]:
    server = FakeOpenAITTS()
    await server.start()
    yield server
    await server.stop()


def maker(fake: FakeOpenAITTS, **options: object) -> tts_checks.MakeProvider:
    def make(api_key: str | None) -> TTSProvider:
        config = ProviderConfig(
            vendor="openai",
            api_key=api_key,
            voice="coral",
            options={"base_url": f"{fake.base_url}/v1", "read_timeout": 5.0, **options},
        )
        provider = build("tts", config)
        assert isinstance(provider, OpenAITTS)
        return provider

    return make


async def test_streams_24k_pcm_across_split_samples(fake: FakeOpenAITTS) -> None:
    await tts_checks.check_streams(maker(fake, instructions="Warm."), fake, 24000, "pcm16")
    (request,) = fake.requests
    assert request.body == {
        "model": "gpt-4o-mini-tts",
        "input": tts_checks.TEXT,
        "voice": "coral",
        "response_format": "pcm",
        "speed": 1.0,
        "instructions": "Warm.",
    }


async def test_bad_key(fake: FakeOpenAITTS) -> None:
    await tts_checks.check_bad_key(maker(fake), fake)


async def test_429_retried(fake: FakeOpenAITTS) -> None:
    await tts_checks.check_429_retried(maker(fake), fake)


async def test_mid_stream_disconnect(fake: FakeOpenAITTS) -> None:
    await tts_checks.check_disconnect(maker(fake), fake)


async def test_check_credentials(fake: FakeOpenAITTS) -> None:
    await tts_checks.check_credentials(maker(fake), fake)


async def test_connect_prewarms_the_connection(fake: FakeOpenAITTS) -> None:
    await tts_checks.check_connect_prewarms(maker(fake), fake)


async def test_abandoned_mid_stream_returns_at_once(fake: FakeOpenAITTS) -> None:
    await tts_checks.check_abandon(maker(fake), fake)


async def test_silence_before_audio_is_retried_then_times_out(fake: FakeOpenAITTS) -> None:
    fake.first_audio_delay = 1.0
    provider = maker(fake, read_timeout=0.3, max_attempts=2)(fake.api_key)
    with pytest.raises(ProviderTimeout):
        await tts_checks.collect(provider)
    await provider.close()
    assert len(fake.requests) == 2


async def test_silence_mid_stream_times_out_without_retry(fake: FakeOpenAITTS) -> None:
    fake.chunk_delay = 1.0
    provider = maker(fake, read_timeout=0.3)(fake.api_key)
    with pytest.raises(ProviderTimeout):
        await tts_checks.collect(provider)
    await provider.close()
    assert len(fake.requests) == 1


async def test_the_default_voice_is_one_the_default_model_speaks(fake: FakeOpenAITTS) -> None:
    def make(api_key: str | None) -> TTSProvider:
        config = ProviderConfig(
            vendor="openai", api_key=api_key, options={"base_url": f"{fake.base_url}/v1"}
        )
        provider = build("tts", config)
        assert isinstance(provider, OpenAITTS)
        return provider

    await tts_checks.check_streams(make, fake, 24000, "pcm16")
    (request,) = fake.requests
    assert (request.body["model"], request.body["voice"]) == ("gpt-4o-mini-tts", "marin")
