"""Fish Audio TTS against the local fake speaking its streaming HTTP protocol."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from providers.base import ProviderConfig, TTSProvider
from providers.registry import build
from providers.tts.fish_audio import FishAudioTTS
from tests.fakes.fish_audio_tts import FakeFishAudioTTS
from tests.providers_cloud import tts_checks


@pytest.fixture
async def fake() -> AsyncIterator[FakeFishAudioTTS]:
    server = FakeFishAudioTTS()
    await server.start()
    yield server
    await server.stop()


def maker(fake: FakeFishAudioTTS, **options: object) -> tts_checks.MakeProvider:
    def make(api_key: str | None) -> TTSProvider:
        config = ProviderConfig(
            vendor="fish_audio",
            api_key=api_key,
            voice="802e3bc2b27e49c2995d23ef70e6ac89",
            options={"base_url": fake.base_url, "read_timeout": 5.0, **options},
        )
        provider = build("tts", config)
        assert isinstance(provider, FishAudioTTS)
        return provider

    return make


async def test_streams_8k_pcm(fake: FakeFishAudioTTS) -> None:
    await tts_checks.check_streams(maker(fake), fake, 8000, "pcm16")
    (request,) = fake.requests
    assert request.headers["model"] == "s2.1-pro"
    assert request.body == {
        "text": tts_checks.TEXT,
        "format": "pcm",
        "sample_rate": 8000,
        "latency": "balanced",
        "normalize": True,
        "reference_id": "802e3bc2b27e49c2995d23ef70e6ac89",
    }


async def test_bad_key(fake: FakeFishAudioTTS) -> None:
    await tts_checks.check_bad_key(maker(fake), fake)


async def test_429_retried(fake: FakeFishAudioTTS) -> None:
    await tts_checks.check_429_retried(maker(fake), fake)


async def test_mid_stream_disconnect(fake: FakeFishAudioTTS) -> None:
    await tts_checks.check_disconnect(maker(fake), fake)


async def test_check_credentials(fake: FakeFishAudioTTS) -> None:
    await tts_checks.check_credentials(maker(fake), fake)


async def test_connect_prewarms_the_connection(fake: FakeFishAudioTTS) -> None:
    await tts_checks.check_connect_prewarms(maker(fake), fake)


async def test_abandoned_mid_stream_returns_at_once(fake: FakeFishAudioTTS) -> None:
    await tts_checks.check_abandon(maker(fake), fake)
