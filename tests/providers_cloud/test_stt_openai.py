"""OpenAI STT: realtime transcription over WebSocket against a fake realtime socket, and the
fallback to `/v1/audio/transcriptions` when the socket is unavailable or drops."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from providers.base import ProviderConfig, ProviderError, Transcript
from providers.builtin import load_all
from providers.registry import InvalidOptions, build
from providers.stt.openai import OpenAISTT
from tests.fakes.cloud_common import Failure
from tests.fakes.openai_realtime import FakeOpenAIAudio
from tests.fakes.whisper_transcriptions import FAKE_WHISPER_KEY
from tests.providers_cloud.stt_audio import frames, silence, speech

RATE = 8000


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAIAudio]:
    server = FakeOpenAIAudio()
    await server.start()
    yield server
    await server.stop()


def openai(fake: FakeOpenAIAudio, api_key: str = FAKE_WHISPER_KEY, **options: object) -> OpenAISTT:
    load_all()
    config = ProviderConfig(
        vendor="openai", api_key=api_key, options={"base_url": fake.base_url, **options}
    )
    provider = build("stt", config)
    assert isinstance(provider, OpenAISTT)
    return provider


async def until_final(provider: OpenAISTT, seen: list[Transcript]) -> None:
    async for transcript in provider.transcripts():
        seen.append(transcript)
        if transcript.is_final:
            return


async def say(provider: OpenAISTT, pcm: bytes) -> list[Transcript]:
    seen: list[Transcript] = []
    reader = asyncio.create_task(until_final(provider, seen))
    for frame in frames(pcm, RATE):
        await provider.send_audio(frame)
    await provider.end_utterance()
    await asyncio.wait_for(reader, 5)
    return seen


async def test_realtime_session_streams_speech_as_mulaw(fake: FakeOpenAIAudio) -> None:
    provider = openai(fake, prompt="A salon", keywords=["Bella", "balayage"], delay="low")
    await provider.connect()
    pcm = silence(3.0, RATE) + speech(0.8, RATE) + silence(0.3, RATE)
    seen = await say(provider, pcm)
    await provider.close()
    (update,) = fake.session_updates
    audio_in = update["audio"]["input"]
    assert audio_in["format"] == {"type": "audio/pcmu"}
    assert audio_in["transcription"] == {
        "model": "gpt-live-transcribe",
        "languages": ["en"],
        "keywords": ["Bella", "balayage"],
        "prompt": "A salon",
        "delay": "low",
    }
    assert "turn_detection" not in audio_in
    assert fake.realtime_sessions[0].body == {"intent": "transcription"}
    # µ-law: one byte a sample; only the speech (and a little context) was appended.
    assert 0.8 * RATE <= len(fake.realtime_audio) < 2.5 * RATE
    assert [t.text for t in seen] == [
        "Please",
        "Please call",
        "Please call me",
        "Please call me back",
        "Please call me back tomorrow",
        "Please call me back tomorrow",
    ]
    assert seen[-1].is_final
    assert fake.commits == 1
    assert fake.uploads == []
    assert provider.usage.input_tokens == 40
    assert provider.usage.output_tokens == 5


async def test_older_models_get_language_and_no_turn_detection(fake: FakeOpenAIAudio) -> None:
    load_all()
    config = ProviderConfig(
        vendor="openai",
        api_key=FAKE_WHISPER_KEY,
        model="gpt-4o-transcribe",
        options={"base_url": fake.base_url, "noise_reduction": "near_field"},
    )
    provider = build("stt", config)
    assert isinstance(provider, OpenAISTT)
    await provider.connect()
    seen = await say(provider, speech(0.5, RATE))
    await provider.close()
    assert seen[-1] == Transcript(fake.realtime_text, is_final=True)
    audio_in = fake.session_updates[0]["audio"]["input"]
    assert audio_in["transcription"] == {"model": "gpt-4o-transcribe", "language": "en"}
    assert audio_in["turn_detection"] is None
    assert audio_in["noise_reduction"] == {"type": "near_field"}


async def test_gpt_transcribe_commits_turns_with_languages(fake: FakeOpenAIAudio) -> None:
    load_all()
    config = ProviderConfig(
        vendor="openai",
        api_key=FAKE_WHISPER_KEY,
        model="gpt-transcribe",
        options={"base_url": fake.base_url, "keywords": ["Bella"]},
    )
    provider = build("stt", config)
    assert isinstance(provider, OpenAISTT)
    await provider.connect()
    seen = await say(provider, speech(0.5, RATE))
    await provider.close()
    assert seen[-1] == Transcript(fake.realtime_text, is_final=True)
    audio_in = fake.session_updates[0]["audio"]["input"]
    assert audio_in["transcription"] == {
        "model": "gpt-transcribe",
        "languages": ["en"],
        "keywords": ["Bella"],
    }
    assert audio_in["turn_detection"] is None


async def test_a_refused_session_is_an_error_not_a_silent_fallback(fake: FakeOpenAIAudio) -> None:
    fake.refuse_session = "invalid_value"
    provider = openai(fake)
    with pytest.raises(ProviderError, match="session refused") as caught:
        await provider.connect()
    assert caught.value.retryable is False
    assert not provider.file_mode
    await provider.close()
    assert fake.uploads == []


async def test_a_keyword_openai_would_refuse_is_refused_here(fake: FakeOpenAIAudio) -> None:
    with pytest.raises(InvalidOptions) as caught:
        openai(fake, keywords=["<b>Bella</b>"])
    assert caught.value.option is not None
    assert caught.value.option.startswith("keywords")


async def test_a_long_call_moves_to_a_new_session_before_it_expires(fake: FakeOpenAIAudio) -> None:
    fake.expire_after_transcripts = 1
    provider = openai(fake)
    await provider.connect()
    first = await say(provider, speech(0.5, RATE))
    second = await say(provider, speech(0.5, RATE))
    await provider.close()
    assert first[-1] == second[-1] == Transcript(fake.realtime_text, is_final=True)
    assert len(fake.realtime_sessions) == 2
    assert fake.uploads == []
    assert not provider.file_mode


async def test_silent_utterance_commits_nothing(fake: FakeOpenAIAudio) -> None:
    provider = openai(fake)
    await provider.connect()
    assert await say(provider, bytes(RATE * 2)) == [Transcript("", is_final=True)]
    await provider.close()
    assert fake.commits == 0


async def test_bad_key_fails_without_retry_or_fallback(fake: FakeOpenAIAudio) -> None:
    provider = openai(fake, api_key="sk-wrong")
    with pytest.raises(ProviderError, match="credential refused") as caught:
        await provider.connect()
    assert caught.value.retryable is False
    assert len(fake.realtime_sessions) == 1
    assert fake.requests == []
    await provider.close()


async def test_429_at_handshake_is_retried_with_backoff(fake: FakeOpenAIAudio) -> None:
    fake.realtime_failures = [Failure(429)]
    provider = openai(fake)
    await provider.connect()
    first, second = (s.at for s in fake.realtime_sessions)
    assert second - first >= 0.12
    assert not provider.file_mode
    seen = await say(provider, speech(0.5, RATE))
    assert seen[-1] == Transcript(fake.realtime_text, is_final=True)
    await provider.close()


async def test_realtime_unavailable_falls_back_to_the_file_endpoint(fake: FakeOpenAIAudio) -> None:
    fake.realtime_status = 404
    provider = openai(fake)
    await provider.connect()
    assert provider.file_mode
    seen = await say(provider, silence(1.0, RATE) + speech(0.6, RATE) + silence(0.2, RATE))
    await provider.close()
    assert seen == [Transcript(fake.default_text, is_final=True)]
    (upload,) = fake.uploads
    assert upload.fields["model"] == "gpt-4o-mini-transcribe"
    assert upload.sample_rate == RATE
    assert provider.usage.requests == 1


async def test_mid_stream_disconnect_resends_the_utterance_over_http(fake: FakeOpenAIAudio) -> None:
    fake.drop_on_commit = 1
    provider = openai(fake)
    await provider.connect()
    first = await say(provider, speech(0.6, RATE))
    assert first[-1] == Transcript(fake.default_text, is_final=True)
    assert provider.file_mode
    fake.texts = ["And on Friday."]
    second = await say(provider, speech(0.4, RATE))
    assert second == [Transcript("And on Friday.", is_final=True)]
    await provider.close()
    assert len(fake.uploads) == 2
    assert len(fake.realtime_sessions) == 1


async def test_disconnect_with_the_file_endpoint_failing_raises(fake: FakeOpenAIAudio) -> None:
    fake.drop_on_commit = 1
    fake.failures = [Failure(500), Failure(500)]
    provider = openai(fake, max_attempts=2)
    await provider.connect()
    with pytest.raises(ProviderError, match="HTTP 500") as caught:
        await say(provider, speech(0.6, RATE))
    assert caught.value.retryable is True
    await provider.close()


async def test_file_mode_never_opens_a_socket(fake: FakeOpenAIAudio) -> None:
    provider = openai(fake, mode="file", file_model="whisper-1")
    await provider.connect()
    seen = await say(provider, speech(0.5, RATE))
    await provider.close()
    assert seen == [Transcript(fake.default_text, is_final=True)]
    assert fake.realtime_sessions == []
    assert fake.uploads[0].fields["model"] == "whisper-1"


async def test_check_credentials(fake: FakeOpenAIAudio) -> None:
    good, bad = openai(fake), openai(fake, api_key="sk-wrong")
    await good.check_credentials()
    with pytest.raises(ProviderError, match="credential refused"):
        await bad.check_credentials()
    await good.close()
    await bad.close()
