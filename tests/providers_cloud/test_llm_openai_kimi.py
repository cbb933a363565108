"""OpenAI and Kimi LLMs: the shared OpenAI-compatible client, configured per vendor, against
the fake OpenAI-compatible server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from providers.base import Message, ProviderConfig, ProviderError, TextDelta, ToolCall, ToolSpec
from providers.builtin import load_all
from providers.llm.kimi import THINKING_MIN_TOKENS, KimiLLM
from providers.llm.openai import OpenAILLM
from providers.llm.openai_compatible import OpenAICompatibleLLM
from providers.registry import InvalidOptions, build, get
from tests.fakes.moonshot_chat import FakeMoonshot
from tests.fakes.openai_compatible import FAKE_API_KEY, Failure, FakeOpenAI, ScriptedTurn

HISTORY = [Message("user", "Can I book a haircut?")]


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    server = FakeOpenAI()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def moonshot() -> AsyncIterator[FakeMoonshot]:
    server = FakeMoonshot()
    await server.start()
    yield server
    await server.stop()


def llm(
    vendor: str,
    fake: FakeOpenAI,
    api_key: str = FAKE_API_KEY,
    model: str | None = None,
    **options: object,
) -> OpenAICompatibleLLM:
    load_all()
    config = ProviderConfig(
        vendor=vendor, model=model, api_key=api_key, options={"base_url": fake.base_url, **options}
    )
    provider = build("llm", config)
    assert isinstance(provider, OpenAICompatibleLLM)
    return provider


async def collect(provider: OpenAICompatibleLLM) -> str:
    try:
        return "".join([delta async for delta in provider.stream(HISTORY, "Be brief.")])
    finally:
        await provider.close()


@pytest.mark.parametrize(("vendor", "cls"), [("openai", OpenAILLM), ("kimi", KimiLLM)])
async def test_streams_through_the_shared_client(
    fake: FakeOpenAI, vendor: str, cls: type[OpenAICompatibleLLM]
) -> None:
    provider = llm(vendor, fake)
    assert isinstance(provider, cls)
    assert await collect(provider) == fake.reply
    (request,) = fake.requests
    assert request.headers["Authorization"] == f"Bearer {FAKE_API_KEY}"
    assert request.body["model"] == get("llm", vendor).default_model
    assert provider.usage.output_tokens == len(fake.reply.split())


async def test_openai_sends_max_completion_tokens(fake: FakeOpenAI) -> None:
    await collect(llm("openai", fake, model="gpt-4o-mini", max_tokens=50, temperature=0.4))
    body = fake.requests[0].body
    assert body["max_completion_tokens"] == 50
    assert "max_tokens" not in body
    assert body["temperature"] == 0.4


async def test_openai_reasoning_model_gets_effort_not_temperature(fake: FakeOpenAI) -> None:
    await collect(llm("openai", fake, model="gpt-5-mini", reasoning_effort="low"))
    body = fake.requests[0].body
    assert "temperature" not in body
    assert body["reasoning_effort"] == "low"


async def test_openai_o_series_gets_its_quickest_effort(fake: FakeOpenAI) -> None:
    await collect(llm("openai", fake, model="o4-mini"))
    assert fake.requests[0].body["reasoning_effort"] == "low"
    assert "temperature" not in fake.requests[0].body


@pytest.mark.parametrize(
    ("model", "wanted", "sent"),
    [
        ("gpt-5-mini", "minimal", "minimal"),
        ("gpt-5-mini", "none", "minimal"),
        ("gpt-5.1", "minimal", "none"),
        ("gpt-5.2", "none", "none"),
        ("gpt-5.1", "medium", "medium"),
        ("o3", "none", "low"),
        (None, "minimal", "none"),
        ("gpt-6-sol", "high", "high"),
    ],
)
async def test_openai_quickest_effort_is_the_one_the_model_family_takes(
    fake: FakeOpenAI, model: str | None, wanted: str, sent: str
) -> None:
    assert await collect(llm("openai", fake, model=model, reasoning_effort=wanted)) == fake.reply
    assert fake.requests[0].body["reasoning_effort"] == sent


async def test_kimi_v1_models_take_a_temperature_in_range(fake: FakeOpenAI) -> None:
    await collect(llm("kimi", fake, model="moonshot-v1-8k"))
    assert fake.requests[0].body["temperature"] == 0.6
    assert "thinking" not in fake.requests[0].body
    with pytest.raises(InvalidOptions, match="temperature"):
        llm("kimi", fake, temperature=1.5)


async def test_kimi_k2_answers_in_instant_mode_with_moonshot_usage(moonshot: FakeMoonshot) -> None:
    provider = llm("kimi", moonshot)
    assert await collect(provider) == moonshot.reply
    body = moonshot.requests[0].body
    assert body["model"] == "kimi-k2.6"
    assert body["thinking"] == {"type": "disabled"}
    assert "temperature" not in body
    assert body["max_tokens"] == 300
    # Moonshot puts usage in the finishing choice: it is counted all the same.
    assert provider.usage.input_tokens == 2 + 5
    assert provider.usage.output_tokens == len(moonshot.reply.split())


async def test_kimi_k2_thinking_gets_room_to_think(moonshot: FakeMoonshot) -> None:
    await collect(llm("kimi", moonshot, thinking=True))
    body = moonshot.requests[0].body
    assert body["thinking"] == {"type": "enabled"}
    assert body["max_tokens"] == THINKING_MIN_TOKENS


@pytest.mark.parametrize("vendor", ["openai", "kimi"])
async def test_bad_key_fails_without_retry(fake: FakeOpenAI, vendor: str) -> None:
    with pytest.raises(ProviderError, match="credential refused") as caught:
        await collect(llm(vendor, fake, api_key="sk-wrong"))
    assert caught.value.retryable is False
    assert len(fake.requests) == 1


@pytest.mark.parametrize("vendor", ["openai", "kimi"])
async def test_429_is_retried_with_backoff(fake: FakeOpenAI, vendor: str) -> None:
    fake.failures = [Failure(429)]
    assert await collect(llm(vendor, fake)) == fake.reply
    first, second = (r.at for r in fake.requests)
    assert second - first >= 0.12


@pytest.mark.parametrize("vendor", ["openai", "kimi"])
async def test_mid_stream_disconnect_raises(fake: FakeOpenAI, vendor: str) -> None:
    fake.disconnect_after = 2
    with pytest.raises(ProviderError) as caught:
        await collect(llm(vendor, fake))
    assert caught.value.retryable is True
    assert len(fake.requests) == 1


@pytest.mark.parametrize("vendor", ["openai", "kimi"])
async def test_check_credentials_lists_models(fake: FakeOpenAI, vendor: str) -> None:
    provider = llm(vendor, fake)
    await provider.check_credentials()
    await provider.close()
    bad = llm(vendor, fake, api_key="sk-wrong")
    with pytest.raises(ProviderError, match="credential refused"):
        await bad.check_credentials()
    await bad.close()


@pytest.mark.parametrize("vendor", ["openai", "kimi"])
async def test_tool_called_mid_reply_and_its_result_used(
    vendor: str, fake: FakeOpenAI, moonshot: FakeMoonshot
) -> None:
    server = moonshot if vendor == "kimi" else fake
    tool = ToolSpec("check_availability", "Free slots.", {"type": "object", "properties": {}})
    server.turns = [
        ScriptedTurn("One second.", [("check_availability", '{"day": "Friday", "party": 3}')]),
        ScriptedTurn("Friday at noon is free."),
    ]
    provider = llm(vendor, server)
    try:
        first = [e async for e in provider.generate(HISTORY, "", [tool])]
        *texts, call = first
        assert "".join(t.text for t in texts if isinstance(t, TextDelta)) == "One second."
        assert isinstance(call, ToolCall)
        assert call.arguments == '{"day": "Friday", "party": 3}'
        history = [
            *HISTORY,
            Message("assistant", "One second.", tool_calls=(call,)),
            Message("tool", '{"free": ["12:00"]}', tool_call_id=call.id),
        ]
        second = [e async for e in provider.generate(history, "", [tool])]
    finally:
        await provider.close()
    assert "".join(e.text for e in second if isinstance(e, TextDelta)) == "Friday at noon is free."
    sent = server.requests[1].body["messages"]
    assert sent[-1] == {"role": "tool", "tool_call_id": call.id, "content": '{"free": ["12:00"]}'}
