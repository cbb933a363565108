"""Resemble AI TTS against the local fake speaking its streaming WAV protocol."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from providers.base import ProviderConfig, TTSProvider
from providers.registry import ProviderConfigError, build
from providers.tts.resemble import ResembleTTS
from tests.fakes.resemble_tts import FakeResembleTTS
from tests.providers_cloud import tts_checks

VOICE = "55592656"


@pytest.fixture
async def fake() -> AsyncIterator[FakeResembleTTS]:
    server = FakeResembleTTS()
    await server.start()
    yield server
    await server.stop()


def maker(fake: FakeResembleTTS, **options: object) -> tts_checks.MakeProvider:
    def make(api_key: str | None) -> TTSProvider:
        config = ProviderConfig(
            vendor="resemble",
            api_key=api_key,
            voice=VOICE,
            options={
                "base_url": fake.base_url,
                "api_base_url": f"{fake.base_url}/api/v2",
                "read_timeout": 5.0,
                **options,
            },
        )
        provider = build("tts", config)
        assert isinstance(provider, ResembleTTS)
        return provider

    return make


async def test_streams_mulaw_wav_with_header_stripped(fake: FakeResembleTTS) -> None:
    await tts_checks.check_streams(maker(fake, project_uuid="p-1"), fake, 8000, "ulaw")
    (request,) = fake.requests
    assert request.body == {
        "voice_uuid": VOICE,
        "data": tts_checks.TEXT,
        "precision": "MULAW",
        "sample_rate": 8000,
        "project_uuid": "p-1",
    }


async def test_streams_pcm16_wav_at_the_header_rate(fake: FakeResembleTTS) -> None:
    options = {"precision": "PCM_16", "sample_rate": 16000}
    await tts_checks.check_streams(maker(fake, **options), fake, 16000, "pcm16")


def test_voice_is_required() -> None:
    config = ProviderConfig(vendor="resemble", api_key="k")
    with pytest.raises(ProviderConfigError, match="voice"):
        build("tts", config)


async def test_bad_key(fake: FakeResembleTTS) -> None:
    await tts_checks.check_bad_key(maker(fake), fake)


async def test_429_retried(fake: FakeResembleTTS) -> None:
    await tts_checks.check_429_retried(maker(fake), fake)


async def test_mid_stream_disconnect(fake: FakeResembleTTS) -> None:
    await tts_checks.check_disconnect(maker(fake), fake)


async def test_check_credentials(fake: FakeResembleTTS) -> None:
    await tts_checks.check_credentials(maker(fake), fake)


async def test_connect_prewarms_the_connection(fake: FakeResembleTTS) -> None:
    await tts_checks.check_connect_prewarms(maker(fake), fake)


async def test_abandoned_mid_stream_returns_at_once(fake: FakeResembleTTS) -> None:
    await tts_checks.check_abandon(maker(fake), fake)
