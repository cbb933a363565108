"""ElevenLabs TTS against the local fake: the HTTP stream and the streaming-input WebSocket."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

import pytest

from providers.base import ProviderConfig, ProviderError, TTSProvider
from providers.registry import build
from providers.tts.elevenlabs import ElevenLabsTTS
from tests.fakes.elevenlabs_tts import FakeElevenLabsTTS
from tests.providers_cloud import tts_checks

VOICE = "JBFqnCBsd6RMkjVDRZzb"


@pytest.fixture
async def fake() -> AsyncIterator[FakeElevenLabsTTS]:
    server = FakeElevenLabsTTS()
    await server.start()
    yield server
    await server.stop()


def maker(fake: FakeElevenLabsTTS, **options: object) -> tts_checks.MakeProvider:
    def make(api_key: str | None) -> TTSProvider:
        config = ProviderConfig(
            vendor="elevenlabs",
            api_key=api_key,
            voice=VOICE,
            options={"base_url": fake.base_url, "read_timeout": 5.0, **options},
        )
        provider = build("tts", config)
        assert isinstance(provider, ElevenLabsTTS)
        return provider

    return make


async def test_http_streams_ulaw_8k(fake: FakeElevenLabsTTS) -> None:
    await tts_checks.check_streams(maker(fake, stability=0.5), fake, 8000, "ulaw")
    (request,) = fake.requests
    assert request.path == f"/v1/text-to-speech/{VOICE}/stream"
    assert request.query == {"output_format": "ulaw_8000"}
    assert request.headers["xi-api-key"] == fake.api_key
    assert request.body == {
        "text": tts_checks.TEXT,
        "model_id": "eleven_flash_v2_5",
        "voice_settings": {"stability": 0.5},
    }


async def test_http_streams_pcm_16k(fake: FakeElevenLabsTTS) -> None:
    await tts_checks.check_streams(maker(fake, output="pcm_16000"), fake, 16000, "pcm16")


async def test_http_bad_key(fake: FakeElevenLabsTTS) -> None:
    await tts_checks.check_bad_key(maker(fake), fake)


async def test_http_429_retried(fake: FakeElevenLabsTTS) -> None:
    await tts_checks.check_429_retried(maker(fake), fake)


async def test_http_mid_stream_disconnect(fake: FakeElevenLabsTTS) -> None:
    await tts_checks.check_disconnect(maker(fake), fake)


async def test_ws_streams_ulaw_8k(fake: FakeElevenLabsTTS) -> None:
    await tts_checks.check_streams(maker(fake, transport="websocket"), fake, 8000, "ulaw")
    (request,) = fake.requests
    assert request.path == f"/v1/text-to-speech/{VOICE}/multi-stream-input"
    assert request.query == {
        "model_id": "eleven_flash_v2_5",
        "output_format": "ulaw_8000",
        "auto_mode": "true",
    }
    assert fake.ws_texts == [tts_checks.TEXT + " "]


async def test_ws_streams_pcm_with_split_samples(fake: FakeElevenLabsTTS) -> None:
    maker_pcm = maker(fake, transport="websocket", output="pcm_24000")
    await tts_checks.check_streams(maker_pcm, fake, 24000, "pcm16")


async def test_ws_bad_key_reported_in_band(fake: FakeElevenLabsTTS) -> None:
    await tts_checks.check_bad_key(maker(fake, transport="websocket"), fake)


async def test_ws_429_handshake_retried(fake: FakeElevenLabsTTS) -> None:
    await tts_checks.check_429_retried(maker(fake, transport="websocket"), fake)


async def test_ws_mid_stream_disconnect(fake: FakeElevenLabsTTS) -> None:
    await tts_checks.check_disconnect(maker(fake, transport="websocket"), fake)


async def test_ws_silence_times_out(fake: FakeElevenLabsTTS) -> None:
    fake.chunk_delay = 1.0
    provider = maker(fake, transport="websocket", read_timeout=0.3, max_attempts=1)(fake.api_key)
    with pytest.raises(ProviderError, match="no answer"):
        await tts_checks.collect(provider)
    await provider.close()


async def test_check_credentials(fake: FakeElevenLabsTTS) -> None:
    await tts_checks.check_credentials(maker(fake), fake)


async def test_connect_prewarms_the_connection(fake: FakeElevenLabsTTS) -> None:
    await tts_checks.check_connect_prewarms(maker(fake), fake)


async def test_abandoned_mid_stream_returns_at_once(fake: FakeElevenLabsTTS) -> None:
    await tts_checks.check_abandon(maker(fake), fake)


async def test_ws_abandoned_mid_stream_returns_at_once(fake: FakeElevenLabsTTS) -> None:
    await tts_checks.check_abandon(maker(fake, transport="websocket"), fake)


async def test_ws_one_socket_serves_every_sentence_even_after_a_barge_in(
    fake: FakeElevenLabsTTS,
) -> None:
    provider = maker(fake, transport="websocket")(fake.api_key)
    try:
        await provider.connect()
        first, _ = await tts_checks.collect(provider, "Hello.")
        fake.chunk_delay = 0.2
        dropped = provider.synthesize("This one is interrupted.")
        assert isinstance(dropped, AsyncGenerator)
        await anext(dropped)
        await dropped.aclose()
        fake.chunk_delay = 0.0
        third, _ = await tts_checks.collect(provider, "Goodbye.")
    finally:
        await provider.close()
    assert first and third
    # Only the last sentence's audio: none of the dropped one's leaked into it.
    assert b"".join(c.pcm for c in third) == b"".join(c.pcm for c in first)
    assert len(fake.requests) == 1
    assert fake.ws_texts == ["Hello. ", "This one is interrupted. ", "Goodbye. "]
