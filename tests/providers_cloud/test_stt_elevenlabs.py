"""ElevenLabs realtime STT against a fake Scribe WebSocket speaking its message types."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from media.g711 import ulaw_encode
from providers.base import ProviderConfig, ProviderError, Transcript
from providers.builtin import load_all
from providers.registry import build
from providers.stt.elevenlabs import ElevenLabsSTT
from tests.fakes.cloud_common import Failure
from tests.fakes.elevenlabs_stt import FAKE_ELEVENLABS_KEY, FakeElevenLabsSTT
from tests.providers_cloud.stt_audio import frames, speech

RATE = 8000


@pytest.fixture
async def fake() -> AsyncIterator[FakeElevenLabsSTT]:
    server = FakeElevenLabsSTT()
    await server.start()
    yield server
    await server.stop()


def elevenlabs(
    fake: FakeElevenLabsSTT, api_key: str = FAKE_ELEVENLABS_KEY, **options: object
) -> ElevenLabsSTT:
    load_all()
    config = ProviderConfig(
        vendor="elevenlabs", api_key=api_key, options={"base_url": fake.base_url, **options}
    )
    provider = build("stt", config)
    assert isinstance(provider, ElevenLabsSTT)
    return provider


async def until_final(provider: ElevenLabsSTT, seen: list[Transcript]) -> None:
    async for transcript in provider.transcripts():
        seen.append(transcript)
        if transcript.is_final:
            return


async def send_all(provider: ElevenLabsSTT, pcm: bytes) -> None:
    for frame in frames(pcm, RATE):
        await provider.send_audio(frame)
        await asyncio.sleep(0)


async def test_streams_mulaw_and_commits_on_end_of_speech(fake: FakeElevenLabsSTT) -> None:
    provider = elevenlabs(fake)
    await provider.connect()
    seen: list[Transcript] = []
    reader = asyncio.create_task(until_final(provider, seen))
    pcm = speech(0.8, RATE)
    await send_all(provider, pcm)
    await provider.end_utterance()
    await asyncio.wait_for(reader, 5)
    await provider.close()
    (session,) = fake.sessions
    assert session.body == {
        "model_id": "scribe_v2_realtime",
        "audio_format": "ulaw_8000",
        "commit_strategy": "manual",
        "language_code": "en",
    }
    assert bytes(fake.audio) == ulaw_encode(pcm)
    assert [t.text for t in seen if not t.is_final] == [
        "Do",
        "Do you",
        "Do you have",
        "Do you have anything",
    ]
    assert seen[-1] == Transcript("Do you have anything", is_final=True)
    assert fake.commits == 1
    assert provider.usage.audio_seconds == pytest.approx(0.8)


async def test_bad_key_is_refused_without_retry(fake: FakeElevenLabsSTT) -> None:
    provider = elevenlabs(fake, api_key="wrong")
    with pytest.raises(ProviderError, match="credential refused") as caught:
        await provider.connect()
    assert caught.value.retryable is False
    assert len(fake.sessions) == 1
    await provider.close()


async def test_429_at_handshake_is_retried_with_backoff(fake: FakeElevenLabsSTT) -> None:
    fake.failures = [Failure(429)]
    provider = elevenlabs(fake)
    await provider.connect()
    first, second = (s.at for s in fake.sessions)
    assert second - first >= 0.12
    await send_all(provider, speech(0.4, RATE))
    await provider.end_utterance()
    seen: list[Transcript] = []
    await asyncio.wait_for(until_final(provider, seen), 5)
    assert seen[-1] == Transcript("Do you", is_final=True)
    await provider.close()


async def test_mid_stream_disconnect_raises(fake: FakeElevenLabsSTT) -> None:
    fake.drop_after_bytes = 1600
    provider = elevenlabs(fake)
    await provider.connect()
    with pytest.raises(ProviderError, match="closed") as sending:
        await send_all(provider, speech(2.0, RATE))
    with pytest.raises(ProviderError, match="closed") as reading:
        await asyncio.wait_for(until_final(provider, []), 5)
    assert sending.value is reading.value
    assert reading.value.retryable is True
    await provider.close()


@pytest.mark.parametrize(
    ("error_type", "retryable"),
    [("quota_exceeded", False), ("unaccepted_terms_error", False), ("rate_limited", True)],
)
async def test_error_messages_end_the_stream(
    fake: FakeElevenLabsSTT, error_type: str, retryable: bool
) -> None:
    fake.error_type = error_type
    provider = elevenlabs(fake)
    await provider.connect()
    await provider.send_audio(speech(0.1, RATE))
    with pytest.raises(ProviderError, match=error_type) as caught:
        await asyncio.wait_for(until_final(provider, []), 5)
    assert caught.value.retryable is retryable
    await provider.close()


async def test_a_short_utterance_is_padded_to_the_least_commit(fake: FakeElevenLabsSTT) -> None:
    provider = elevenlabs(fake)
    await provider.connect()
    seen: list[Transcript] = []
    reader = asyncio.create_task(until_final(provider, seen))
    pcm = speech(0.2, RATE)
    await send_all(provider, pcm)
    await provider.end_utterance()
    await asyncio.wait_for(reader, 5)
    await provider.close()
    assert seen[-1] == Transcript("Do", is_final=True)
    assert fake.commits == 1
    assert bytes(fake.audio) == ulaw_encode(pcm) + b"\xff" * 800


async def test_a_refused_commit_is_an_error_not_silence(fake: FakeElevenLabsSTT) -> None:
    fake.min_commit_seconds = 1.0
    provider = elevenlabs(fake)
    await provider.connect()
    await send_all(provider, speech(0.5, RATE))
    await provider.end_utterance()
    with pytest.raises(ProviderError, match="commit_throttled") as caught:
        await asyncio.wait_for(until_final(provider, []), 5)
    assert caught.value.retryable
    await provider.close()


async def test_nothing_heard_is_an_empty_final_without_a_commit(fake: FakeElevenLabsSTT) -> None:
    provider = elevenlabs(fake)
    await provider.connect()
    await provider.end_utterance()
    seen: list[Transcript] = []
    await asyncio.wait_for(until_final(provider, seen), 5)
    await provider.close()
    assert seen == [Transcript("", is_final=True)]
    assert fake.commits == 0


async def test_check_credentials(fake: FakeElevenLabsSTT) -> None:
    await elevenlabs(fake).check_credentials()
    with pytest.raises(ProviderError, match="credential refused"):
        await elevenlabs(fake, api_key="wrong").check_credentials()
    assert [s.path for s in fake.sessions] == ["/v1/models", "/v1/models"]
