"""Deepgram live streaming against a fake `/v1/listen` speaking Deepgram's messages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from media.g711 import ulaw_encode
from providers.base import ProviderConfig, ProviderError, Transcript, UtteranceEnd
from providers.builtin import load_all
from providers.registry import ProviderConfigError, build
from providers.stt.deepgram import DeepgramSTT
from tests.fakes.cloud_common import Failure
from tests.fakes.deepgram_listen import FAKE_DEEPGRAM_KEY, FakeDeepgram
from tests.providers_cloud.stt_audio import frames, speech

RATE = 8000


@pytest.fixture
async def fake() -> AsyncIterator[FakeDeepgram]:
    server = FakeDeepgram()
    await server.start()
    yield server
    await server.stop()


def deepgram(
    fake: FakeDeepgram, api_key: str = FAKE_DEEPGRAM_KEY, **options: object
) -> DeepgramSTT:
    load_all()
    config = ProviderConfig(
        vendor="deepgram", api_key=api_key, options={"base_url": fake.base_url, **options}
    )
    provider = build("stt", config)
    assert isinstance(provider, DeepgramSTT)
    return provider


async def until_final(provider: DeepgramSTT, seen: list[Transcript]) -> None:
    async for transcript in provider.transcripts():
        seen.append(transcript)
        if transcript.is_final:
            return


async def send_until_failure(provider: DeepgramSTT, pcm: bytes) -> None:
    for frame in frames(pcm, RATE):
        await provider.send_audio(frame)
        await asyncio.sleep(0.001)


async def test_older_models_get_keywords_not_keyterms(fake: FakeDeepgram) -> None:
    load_all()
    config = ProviderConfig(
        vendor="deepgram",
        api_key=FAKE_DEEPGRAM_KEY,
        model="nova-2-phonecall",
        options={"base_url": fake.base_url, "keyterms": ["Bella"]},
    )
    provider = build("stt", config)
    await provider.connect()
    await provider.close()
    (session,) = fake.sessions
    assert session.body["model"] == "nova-2-phonecall"
    assert session.body["keywords"] == "Bella"
    assert "keyterm" not in session.body


async def test_streams_mulaw_with_partials_and_a_final(fake: FakeDeepgram) -> None:
    provider = deepgram(fake, keyterms=["Bella"])
    await provider.connect()
    seen: list[Transcript] = []
    reader = asyncio.create_task(until_final(provider, seen))
    pcm = speech(1.0, RATE)
    for frame in frames(pcm, RATE):
        await provider.send_audio(frame)
    await provider.end_utterance()
    await asyncio.wait_for(reader, 5)
    await provider.close()

    (session,) = fake.sessions
    assert session.body["encoding"] == "mulaw"
    assert session.body["sample_rate"] == "8000"
    assert session.body["model"] == "nova-3"
    assert session.body["interim_results"] == "true"
    assert session.body["endpointing"] == "300"
    assert session.body["keyterm"] == "Bella"
    assert bytes(fake.audio) == ulaw_encode(pcm)
    partials = [t.text for t in seen if not t.is_final]
    assert partials == [
        "I",
        "I need",
        "I need to",
        "I need to reschedule",
        "I need to reschedule my",
    ]
    assert seen[-1] == Transcript("I need to reschedule my", is_final=True, confidence=0.98)
    assert fake.control == ["Finalize", "CloseStream"]
    assert provider.usage.audio_seconds == pytest.approx(1.0)
    assert provider.usage.requests == 1


async def test_end_of_silence_gives_an_empty_final(fake: FakeDeepgram) -> None:
    provider = deepgram(fake)
    await provider.connect()
    await provider.send_audio(bytes(320))
    await provider.end_utterance()
    seen: list[Transcript] = []
    await asyncio.wait_for(until_final(provider, seen), 5)
    assert seen == [Transcript("", is_final=True, confidence=0.0)]
    await provider.close()


async def test_keepalive_when_no_audio_flows(fake: FakeDeepgram) -> None:
    provider = deepgram(fake)
    provider.keepalive_interval = 0.1
    await provider.connect()
    await asyncio.sleep(0.35)
    await provider.close()
    assert fake.control.count("KeepAlive") >= 2


async def test_bad_key_fails_without_retry(fake: FakeDeepgram) -> None:
    provider = deepgram(fake, api_key="wrong")
    with pytest.raises(ProviderError, match="credential refused") as caught:
        await provider.connect()
    assert caught.value.status == 401
    assert caught.value.retryable is False
    assert len(fake.sessions) == 1
    await provider.close()


async def test_429_at_handshake_is_retried_with_backoff(fake: FakeDeepgram) -> None:
    fake.failures = [Failure(429)]
    provider = deepgram(fake)
    await provider.connect()
    first, second = (s.at for s in fake.sessions)
    assert second - first >= 0.12
    await provider.send_audio(speech(0.5, RATE))
    await provider.end_utterance()
    seen: list[Transcript] = []
    await asyncio.wait_for(until_final(provider, seen), 5)
    assert seen[-1].text == "I need"
    await provider.close()


async def test_mid_stream_disconnect_raises(fake: FakeDeepgram) -> None:
    fake.drop_after_bytes = 1600
    provider = deepgram(fake)
    await provider.connect()
    with pytest.raises(ProviderError, match="closed") as sending:
        await send_until_failure(provider, speech(2.0, RATE))
    with pytest.raises(ProviderError, match="closed") as reading:
        await asyncio.wait_for(until_final(provider, []), 5)
    assert sending.value is reading.value
    assert reading.value.retryable is True
    await provider.close()
    assert len(fake.sessions) == 1


async def test_error_close_is_reported_with_its_code_and_reason(fake: FakeDeepgram) -> None:
    fake.drop_after_bytes = 800
    fake.close_with = (1011, "NET-0001")
    provider = deepgram(fake)
    await provider.connect()
    with pytest.raises(ProviderError, match="1011: NET-0001"):
        await send_until_failure(provider, speech(2.0, RATE))
    await provider.close()


async def test_check_credentials(fake: FakeDeepgram) -> None:
    await deepgram(fake).check_credentials()
    with pytest.raises(ProviderError, match="credential refused") as caught:
        await deepgram(fake, api_key="wrong").check_credentials()
    assert caught.value.retryable is False
    assert [s.path for s in fake.sessions] == ["/v1/projects", "/v1/projects"]


async def test_utterance_end_comes_after_the_words_with_the_silence_since(
    fake: FakeDeepgram,
) -> None:
    provider = deepgram(fake)
    await provider.connect()
    # The script's six words take 1.2 s; UtteranceEnd follows 1 s of audio after the last.
    for frame in frames(speech(2.5, RATE), RATE):
        await provider.send_audio(frame)
    events = provider.events()
    seen: list[Transcript | UtteranceEnd] = []
    async with asyncio.timeout(5):
        while not seen or not isinstance(seen[-1], UtteranceEnd):
            seen.append(await anext(events))
    await provider.close()
    (session,) = fake.sessions
    assert session.body["utterance_end_ms"] == "1000"
    assert session.body["vad_events"] == "true"
    finals = [e for e in seen if isinstance(e, Transcript) and e.is_final]
    assert [f.text for f in finals] == [fake.transcript]
    end = seen[-1]
    assert isinstance(end, UtteranceEnd)
    assert 1000 <= end.silent_ms <= 1300  # 2.5 s sent, the last word ended at 1.2 s


def test_utterance_end_shorter_than_deepgram_measures_is_refused() -> None:
    load_all()
    config = ProviderConfig(
        vendor="deepgram", api_key=FAKE_DEEPGRAM_KEY, options={"utterance_end_ms": 500}
    )
    with pytest.raises(ProviderConfigError, match="utterance_end_ms"):
        build("stt", config)
