"""Fish Audio ASR against a fake Fish API: one multipart WAV upload per utterance."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from providers.base import ProviderConfig, ProviderError, Transcript
from providers.builtin import load_all
from providers.registry import build
from providers.stt.fish_audio import FishAudioSTT
from tests.fakes.cloud_common import Failure
from tests.fakes.fish_audio_asr import FAKE_FISH_KEY, FakeFishAudio
from tests.providers_cloud.stt_audio import frames, silence, speech

RATE = 8000


@pytest.fixture
async def fake() -> AsyncIterator[FakeFishAudio]:
    server = FakeFishAudio()
    await server.start()
    yield server
    await server.stop()


def fish(fake: FakeFishAudio, api_key: str = FAKE_FISH_KEY, **options: object) -> FishAudioSTT:
    load_all()
    config = ProviderConfig(
        vendor="fish_audio", api_key=api_key, options={"base_url": fake.base_url, **options}
    )
    provider = build("stt", config)
    assert isinstance(provider, FishAudioSTT)
    return provider


async def say(provider: FishAudioSTT, pcm: bytes) -> None:
    for frame in frames(pcm, RATE):
        await provider.send_audio(frame)
    await provider.end_utterance()


async def next_final(provider: FishAudioSTT) -> Transcript:
    async for transcript in provider.transcripts():
        return transcript
    raise AssertionError("transcript stream ended")


async def test_utterance_is_transcribed(fake: FakeFishAudio) -> None:
    provider = fish(fake)
    await say(provider, silence(1.0, RATE) + speech(0.8, RATE) + silence(0.2, RATE))
    assert await next_final(provider) == Transcript(fake.default_text, is_final=True)
    (request,) = fake.requests
    assert request.path == "/v1/asr"
    assert request.body == {"language": "en", "ignore_timestamps": "true"}
    (seconds,) = fake.seconds
    assert 0.8 <= seconds <= 2.0
    assert provider.usage.requests == 1
    assert provider.usage.audio_seconds == pytest.approx(seconds)
    await provider.close()


async def test_bad_key_fails_without_retry(fake: FakeFishAudio) -> None:
    provider = fish(fake, api_key="wrong")
    with pytest.raises(ProviderError, match="credential refused") as caught:
        await say(provider, speech(0.5, RATE))
    assert caught.value.retryable is False
    assert len(fake.requests) == 1
    await provider.close()


async def test_429_is_retried_honouring_retry_after(fake: FakeFishAudio) -> None:
    fake.failures = [Failure(429, retry_after=0.4)]
    provider = fish(fake)
    await say(provider, speech(0.5, RATE))
    assert (await next_final(provider)).text == fake.default_text
    first, second = (r.at for r in fake.requests)
    assert second - first >= 0.35
    await provider.close()


async def test_no_credit_is_final(fake: FakeFishAudio) -> None:
    fake.failures = [Failure(402)]
    provider = fish(fake)
    with pytest.raises(ProviderError, match="HTTP 402") as caught:
        await say(provider, speech(0.5, RATE))
    assert caught.value.retryable is False
    assert len(fake.requests) == 1
    await provider.close()


async def test_dropped_connection_raises(fake: FakeFishAudio) -> None:
    fake.disconnect = True
    provider = fish(fake, max_attempts=1)
    with pytest.raises(ProviderError) as caught:
        await say(provider, speech(0.5, RATE))
    assert caught.value.retryable is True
    await provider.close()


async def test_check_credentials(fake: FakeFishAudio) -> None:
    good, bad = fish(fake), fish(fake, api_key="wrong")
    await good.check_credentials()
    with pytest.raises(ProviderError, match="credential refused"):
        await bad.check_credentials()
    await good.close()
    await bad.close()
    assert [r.path for r in fake.requests] == ["/wallet/self/api-credit"] * 2
