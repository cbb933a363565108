"""Whisper (OpenAI-compatible transcription server) against a fake server: utterances cut by
the VAD arrive as WAV uploads, silence before speech is not sent."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from providers.base import ProviderConfig, ProviderError, Transcript
from providers.builtin import load_all
from providers.registry import build
from providers.stt.utterance import MAX_UTTERANCE_SECONDS
from providers.stt.whisper import WhisperSTT
from tests.fakes.cloud_common import Failure
from tests.fakes.whisper_transcriptions import FAKE_WHISPER_KEY, FakeTranscriptionServer
from tests.providers_cloud.stt_audio import frames, silence, speech

RATE = 8000


@pytest.fixture
async def fake() -> AsyncIterator[FakeTranscriptionServer]:
    server = FakeTranscriptionServer()
    await server.start()
    yield server
    await server.stop()


def whisper(
    fake: FakeTranscriptionServer, api_key: str | None = FAKE_WHISPER_KEY, **options: object
) -> WhisperSTT:
    load_all()
    config = ProviderConfig(
        vendor="whisper",
        api_key=api_key,
        language="en-GB",
        options={"base_url": fake.base_url, **options},
    )
    provider = build("stt", config)
    assert isinstance(provider, WhisperSTT)
    return provider


async def speak(provider: WhisperSTT, pcm: bytes) -> None:
    for frame in frames(pcm, RATE):
        await provider.send_audio(frame)


async def next_final(provider: WhisperSTT) -> Transcript:
    async for transcript in provider.transcripts():
        return transcript
    raise AssertionError("transcript stream ended")


async def test_utterance_is_uploaded_without_leading_silence(fake: FakeTranscriptionServer) -> None:
    provider = whisper(fake, prompt="Bella's salon")
    await provider.connect()
    assert provider.sample_rate == RATE
    await speak(provider, silence(4.0, RATE) + speech(1.0, RATE) + silence(0.3, RATE))
    await provider.end_utterance()
    final = await next_final(provider)
    assert final == Transcript(fake.default_text, is_final=True)
    (upload,) = fake.uploads
    assert upload.sample_rate == RATE
    # The speech and a little context; the 4 s of line noise before it stay out.
    assert 1.0 <= upload.seconds < 2.5
    assert upload.fields["model"] == "Systran/faster-whisper-small"
    assert upload.fields["language"] == "en"
    assert upload.fields["prompt"] == "Bella's salon"
    assert upload.fields["response_format"] == "json"
    assert provider.usage.requests == 1
    assert provider.usage.audio_seconds == upload.seconds
    await provider.close()


async def test_two_utterances_in_order(fake: FakeTranscriptionServer) -> None:
    fake.texts = ["Hello.", "Goodbye."]
    provider = whisper(fake)
    for _ in range(2):
        await speak(provider, speech(0.5, RATE) + silence(0.2, RATE))
        await provider.end_utterance()
    finals = []
    async for transcript in provider.transcripts():
        finals.append(transcript.text)
        if len(finals) == 2:
            break
    assert finals == ["Hello.", "Goodbye."]
    await provider.close()


async def test_a_monologue_is_sent_in_pieces(fake: FakeTranscriptionServer) -> None:
    fake.texts = ["First part.", "Second part."]
    provider = whisper(fake)
    await speak(provider, speech(MAX_UTTERANCE_SECONDS + 2.0, RATE))
    # The first piece went while the caller was still talking.
    assert (await next_final(provider)).text == "First part."
    await provider.end_utterance()
    assert (await next_final(provider)).text == "Second part."
    first, second = fake.uploads
    assert first.seconds == pytest.approx(MAX_UTTERANCE_SECONDS, abs=0.05)
    assert 1.5 < second.seconds < 3.0
    await provider.close()


async def test_a_failed_piece_ends_the_transcript_stream(fake: FakeTranscriptionServer) -> None:
    provider = whisper(fake, api_key="sk-wrong")
    await speak(provider, speech(MAX_UTTERANCE_SECONDS + 0.5, RATE))
    with pytest.raises(ProviderError, match="credential refused"):
        await next_final(provider)
    await provider.close()


async def test_silent_utterance_sends_nothing(fake: FakeTranscriptionServer) -> None:
    provider = whisper(fake)
    await speak(provider, bytes(RATE * 2))
    await provider.end_utterance()
    assert await next_final(provider) == Transcript("", is_final=True)
    assert fake.requests == []
    await provider.close()


async def test_local_server_without_key(fake: FakeTranscriptionServer) -> None:
    fake.api_key = None
    provider = whisper(fake, api_key=None)
    await speak(provider, speech(0.5, RATE))
    await provider.end_utterance()
    assert (await next_final(provider)).text == fake.default_text
    assert "Authorization" not in fake.requests[0].headers
    await provider.close()


async def test_bad_key_fails_without_retry(fake: FakeTranscriptionServer) -> None:
    provider = whisper(fake, api_key="sk-wrong")
    await speak(provider, speech(0.5, RATE))
    with pytest.raises(ProviderError, match="credential refused") as caught:
        await provider.end_utterance()
    assert caught.value.retryable is False
    assert len(fake.requests) == 1
    await provider.close()


async def test_429_is_retried_with_backoff(fake: FakeTranscriptionServer) -> None:
    fake.failures = [Failure(429)]
    provider = whisper(fake)
    await speak(provider, speech(0.5, RATE))
    await provider.end_utterance()
    assert (await next_final(provider)).text == fake.default_text
    first, second = (r.at for r in fake.requests)
    assert second - first >= 0.12
    assert provider.usage.requests == 1
    await provider.close()


async def test_dropped_connection_raises_after_retries(fake: FakeTranscriptionServer) -> None:
    fake.disconnect = True
    provider = whisper(fake, max_attempts=2)
    await speak(provider, speech(0.5, RATE))
    with pytest.raises(ProviderError) as caught:
        await provider.end_utterance()
    assert caught.value.retryable is True
    assert len(fake.requests) == 2
    await provider.close()


async def test_check_credentials(fake: FakeTranscriptionServer) -> None:
    good, bad = whisper(fake), whisper(fake, api_key="sk-wrong")
    await good.check_credentials()
    with pytest.raises(ProviderError, match="credential refused"):
        await bad.check_credentials()
    await good.close()
    await bad.close()
    assert [r.path for r in fake.requests] == ["/v1/models", "/v1/models"]


async def test_whisper_cpp_server_transcribes_at_inference_and_passes_the_check() -> None:
    server = FakeTranscriptionServer(api_key=None, whisper_cpp=True)
    await server.start()
    try:
        provider = whisper(server, api_key=None, server="whisper.cpp")
        await provider.check_credentials()
        await provider.connect()
        await speak(provider, speech(1.0, RATE) + silence(0.3, RATE))
        await provider.end_utterance()
        assert await next_final(provider) == Transcript(server.default_text, is_final=True)
        await provider.close()
    finally:
        await server.stop()
    (upload,) = server.uploads
    assert "model" not in upload.fields
    assert upload.fields["language"] == "en"
    assert upload.fields["response_format"] == "json"
