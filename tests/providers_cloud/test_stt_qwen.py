"""Qwen / DashScope realtime ASR against a fake inference WebSocket speaking the task
protocol (run-task, task-started, result-generated, finish-task, task-finished)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from providers.base import ProviderConfig, ProviderError, Transcript
from providers.builtin import load_all
from providers.registry import build
from providers.stt.qwen import QwenSTT
from tests.fakes.cloud_common import Failure
from tests.fakes.dashscope_asr import FAKE_DASHSCOPE_KEY, FakeDashScopeASR
from tests.providers_cloud.stt_audio import frames, speech

RATE = 8000


@pytest.fixture
async def fake() -> AsyncIterator[FakeDashScopeASR]:
    server = FakeDashScopeASR()
    await server.start()
    yield server
    await server.stop()


def qwen(
    fake: FakeDashScopeASR,
    api_key: str = FAKE_DASHSCOPE_KEY,
    model: str | None = None,
    **options: object,
) -> QwenSTT:
    load_all()
    config = ProviderConfig(
        vendor="qwen", api_key=api_key, model=model, options={"base_url": fake.base_url, **options}
    )
    provider = build("stt", config)
    assert isinstance(provider, QwenSTT)
    return provider


async def until_final(provider: QwenSTT, seen: list[Transcript]) -> None:
    async for transcript in provider.transcripts():
        seen.append(transcript)
        if transcript.is_final:
            return


async def send_all(provider: QwenSTT, pcm: bytes, rate: int = RATE) -> None:
    for frame in frames(pcm, rate):
        await provider.send_audio(frame)
        await asyncio.sleep(0)


async def test_one_task_per_utterance_with_partials_and_finals(fake: FakeDashScopeASR) -> None:
    provider = qwen(fake)
    await provider.connect()
    first: list[Transcript] = []
    reader = asyncio.create_task(until_final(provider, first))
    pcm = speech(0.6, RATE)
    await send_all(provider, pcm)
    await provider.end_utterance()
    await asyncio.wait_for(reader, 5)
    assert [t.text for t in first] == ["I", "I would", "I would like", "I would like"]
    assert first[-1].is_final
    # The next utterance runs in a new task on a new socket; audio sent before it has
    # started is held, not lost.
    second: list[Transcript] = []
    reader = asyncio.create_task(until_final(provider, second))
    await send_all(provider, speech(0.4, RATE))
    await provider.end_utterance()
    await asyncio.wait_for(reader, 5)
    await provider.close()
    assert second[-1] == Transcript("I would", is_final=True)
    assert len(fake.sessions) == len(fake.run_tasks) >= 2
    parameters = fake.run_tasks[0]["payload"]["parameters"]
    assert parameters["format"] == "pcm"
    assert parameters["sample_rate"] == 8000
    assert parameters["language_hints"] == ["en"]
    assert fake.run_tasks[0]["payload"]["model"] == "paraformer-realtime-v2"
    assert fake.stray_audio_bytes == 0
    assert bytes(fake.audio[: len(pcm)]) == pcm
    assert provider.usage.audio_seconds == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("model", "rate"),
    [
        ("fun-asr-realtime", 16000),
        ("fun-asr-flash-8k-realtime", 8000),
        ("paraformer-realtime-8k-v2", 8000),
    ],
)
async def test_each_model_gets_the_rate_it_takes(
    fake: FakeDashScopeASR, model: str, rate: int
) -> None:
    provider = qwen(fake, model=model)
    assert provider.sample_rate == rate
    await provider.connect()
    seen: list[Transcript] = []
    reader = asyncio.create_task(until_final(provider, seen))
    await send_all(provider, speech(0.6, rate), rate)
    await provider.end_utterance()
    await asyncio.wait_for(reader, 5)
    await provider.close()
    assert seen[-1] == Transcript("I would like", is_final=True)
    assert fake.run_tasks[0]["payload"]["parameters"]["sample_rate"] == rate


async def test_a_key_of_the_other_region_is_explained(fake: FakeDashScopeASR) -> None:
    provider = qwen(fake, api_key="sk-singapore")
    with pytest.raises(ProviderError, match="belong to one region") as caught:
        await provider.connect()
    assert "dashscope-intl.aliyuncs.com" in str(caught.value)
    await provider.close()


async def test_empty_utterance_gives_an_empty_final(fake: FakeDashScopeASR) -> None:
    provider = qwen(fake)
    await provider.connect()
    await provider.end_utterance()
    seen: list[Transcript] = []
    await asyncio.wait_for(until_final(provider, seen), 5)
    assert seen == [Transcript("", is_final=True)]
    await provider.close()


async def test_bad_key_fails_without_retry(fake: FakeDashScopeASR) -> None:
    provider = qwen(fake, api_key="wrong")
    with pytest.raises(ProviderError, match="credential refused") as caught:
        await provider.connect()
    assert caught.value.retryable is False
    assert len(fake.sessions) == 1
    await provider.close()


async def test_429_at_handshake_is_retried_with_backoff(fake: FakeDashScopeASR) -> None:
    fake.failures = [Failure(429)]
    provider = qwen(fake)
    await provider.connect()
    first, second = (s.at for s in fake.sessions)
    assert second - first >= 0.12
    await provider.close()


async def test_mid_stream_disconnect_raises(fake: FakeDashScopeASR) -> None:
    fake.drop_after_bytes = 3200
    provider = qwen(fake)
    await provider.connect()
    with pytest.raises(ProviderError, match="closed") as sending:
        await send_all(provider, speech(2.0, RATE))
    with pytest.raises(ProviderError, match="closed") as reading:
        await asyncio.wait_for(until_final(provider, []), 5)
    assert sending.value is reading.value
    await provider.close()


async def test_check_credentials(fake: FakeDashScopeASR) -> None:
    await qwen(fake).check_credentials()
    with pytest.raises(ProviderError, match="credential refused") as caught:
        await qwen(fake, api_key="wrong").check_credentials()
    assert caught.value.retryable is False
    assert len(fake.sessions) == 2
