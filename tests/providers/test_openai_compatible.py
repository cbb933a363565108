"""The OpenAI-compatible LLM client against a local fake server speaking the real SSE format."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

import pytest

from providers.base import (
    Message,
    ProviderConfig,
    ProviderError,
    ProviderTimeout,
    TextDelta,
    ToolCall,
    ToolSpec,
)
from providers.llm.openai_compatible import OpenAICompatibleLLM
from providers.registry import build
from tests.fakes.openai_compatible import FAKE_API_KEY, Failure, FakeOpenAI, ScriptedTurn

HISTORY = [Message("user", "What are your opening hours?")]


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    server = FakeOpenAI()
    await server.start()
    yield server
    await server.stop()


def llm(
    fake: FakeOpenAI, api_key: str | None = FAKE_API_KEY, **options: object
) -> OpenAICompatibleLLM:
    config = ProviderConfig(
        vendor="openai_compatible",
        model="gpt-fake-mini",
        api_key=api_key,
        options={"base_url": fake.base_url, "read_timeout": 5.0, **options},
    )
    provider = build("llm", config)
    assert isinstance(provider, OpenAICompatibleLLM)
    return provider


async def collect(provider: OpenAICompatibleLLM, system_prompt: str = "Be brief.") -> list[str]:
    try:
        return [delta async for delta in provider.stream(HISTORY, system_prompt)]
    finally:
        await provider.close()


async def test_streams_deltas_and_accounts_usage(fake: FakeOpenAI) -> None:
    fake.reply = "We are open nine to five. Anything else?"
    provider = llm(fake, temperature=0.2, max_tokens=64)
    deltas = await collect(provider)
    assert len(deltas) == 8
    assert "".join(deltas) == fake.reply
    (request,) = fake.requests
    assert request.body["stream"] is True
    assert request.body["model"] == "gpt-fake-mini"
    assert request.body["temperature"] == 0.2
    assert request.body["max_tokens"] == 64
    assert request.body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert request.body["messages"][1]["content"] == HISTORY[0].content
    assert provider.usage.requests == 1
    assert provider.usage.input_tokens == 2 + 5
    assert provider.usage.output_tokens == 8


async def test_without_usage_chunk_tokens_stay_zero(fake: FakeOpenAI) -> None:
    provider = llm(fake, include_usage=False)
    assert "".join(await collect(provider)) == fake.reply
    assert "stream_options" not in fake.requests[0].body
    assert provider.usage.output_tokens == 0


async def test_bad_key_fails_at_once_without_retry(fake: FakeOpenAI) -> None:
    provider = llm(fake, api_key="sk-wrong")
    with pytest.raises(ProviderError, match="credential refused") as caught:
        await collect(provider)
    assert caught.value.status == 401
    assert caught.value.retryable is False
    assert len(fake.requests) == 1


async def test_429_is_retried_with_backoff(fake: FakeOpenAI) -> None:
    fake.failures = [Failure(429), Failure(503)]
    provider = llm(fake)
    assert "".join(await collect(provider)) == fake.reply
    first, second, third = (r.at for r in fake.requests)
    # Backoff with jitter in [d/2, d] from a 0.25 s base: at least 0.125 s, then 0.25 s.
    assert second - first >= 0.12
    assert third - second >= 0.24
    assert provider.usage.requests == 1


async def test_retry_after_header_is_honoured(fake: FakeOpenAI) -> None:
    fake.failures = [Failure(429, retry_after=0.6)]
    assert "".join(await collect(llm(fake))) == fake.reply
    first, second = (r.at for r in fake.requests)
    assert second - first >= 0.55


async def test_gives_up_after_max_attempts(fake: FakeOpenAI) -> None:
    fake.failures = [Failure(429, retry_after=0.0)] * 3
    with pytest.raises(ProviderError, match="HTTP 429") as caught:
        await collect(llm(fake, max_attempts=2))
    assert caught.value.retryable is True
    assert len(fake.requests) == 2


async def test_mid_stream_disconnect_raises_provider_error(fake: FakeOpenAI) -> None:
    fake.disconnect_after = 3
    provider = llm(fake)
    received: list[str] = []

    async def drain() -> None:
        async for delta in provider.stream(HISTORY, ""):
            received.append(delta)

    with pytest.raises(ProviderError):
        await drain()
    await provider.close()
    assert "".join(received) == "Hello! How can"
    assert len(fake.requests) == 1


async def test_slow_first_token_is_a_timeout(fake: FakeOpenAI) -> None:
    fake.first_token_delay = 1.0
    with pytest.raises(ProviderTimeout):
        await collect(llm(fake, read_timeout=0.2, max_attempts=1))


async def test_unreachable_server_is_a_retryable_error() -> None:
    config = ProviderConfig(
        vendor="openai_compatible",
        options={"base_url": "http://127.0.0.1:9/v1", "max_attempts": 1},
    )
    provider = build("llm", config)
    assert isinstance(provider, OpenAICompatibleLLM)
    with pytest.raises(ProviderError, match="ConnectError") as caught:
        await collect(provider)
    assert caught.value.retryable is True


async def test_check_credentials(fake: FakeOpenAI) -> None:
    good = llm(fake)
    await good.check_credentials()
    assert await good.client.list_models() == fake.models
    await good.close()
    bad = llm(fake, api_key="sk-wrong")
    with pytest.raises(ProviderError, match="credential refused"):
        await bad.check_credentials()
    await bad.close()


async def test_no_api_key_sends_no_authorization(fake: FakeOpenAI) -> None:
    fake.api_key = None
    assert "".join(await collect(llm(fake, api_key=None))) == fake.reply
    assert "Authorization" not in fake.requests[0].headers


async def test_early_close_by_consumer_releases_stream(fake: FakeOpenAI) -> None:
    fake.chunk_delay = 0.05
    provider = llm(fake)
    stream = provider.stream(HISTORY, "")
    assert isinstance(stream, AsyncGenerator)
    assert await anext(stream) == "Hello!"
    await stream.aclose()
    await provider.close()


async def test_error_event_mid_stream_raises_provider_error(fake: FakeOpenAI) -> None:
    fake.error_after = 2
    received: list[str] = []

    async def drain() -> None:
        provider = llm(fake)
        try:
            async for delta in provider.stream(HISTORY, ""):
                received.append(delta)
        finally:
            await provider.close()

    with pytest.raises(ProviderError, match="The server had an error") as caught:
        await drain()
    assert caught.value.retryable is True
    assert received == ["Hello!", " How"]


AVAILABILITY = ToolSpec(
    name="check_availability",
    description="Free slots on a day.",
    parameters={"type": "object", "properties": {"day": {"type": "string"}}},
)


async def test_tool_call_streams_text_first_then_the_assembled_call(fake: FakeOpenAI) -> None:
    arguments = '{"day": "Tuesday", "party": 4}'
    fake.turns = [ScriptedTurn("Let me check that for you.", [("check_availability", arguments)])]
    provider = llm(fake)
    try:
        events = [e async for e in provider.generate(HISTORY, "", [AVAILABILITY])]
    finally:
        await provider.close()
    *texts, call = events
    assert (
        "".join(t.text for t in texts if isinstance(t, TextDelta)) == "Let me check that for you."
    )
    assert all(isinstance(t, TextDelta) for t in texts) and len(texts) == 6
    assert isinstance(call, ToolCall)
    assert (call.name, call.arguments) == ("check_availability", arguments)
    assert call.id.startswith("call_")
    (tool,) = fake.requests[0].body["tools"]
    assert tool == {
        "type": "function",
        "function": {
            "name": "check_availability",
            "description": "Free slots on a day.",
            "parameters": AVAILABILITY.parameters,
        },
    }


async def test_tool_result_goes_back_as_a_tool_turn(fake: FakeOpenAI) -> None:
    call = ToolCall("call_1", "check_availability", '{"day": "Tuesday"}')
    history = [
        *HISTORY,
        Message("assistant", "", tool_calls=(call,)),
        Message("tool", '{"slots": ["10:00"]}', tool_call_id="call_1"),
    ]
    fake.reply = "Tuesday at ten is free."
    provider = llm(fake)
    try:
        events = [e async for e in provider.generate(history, "", [AVAILABILITY])]
    finally:
        await provider.close()
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == fake.reply
    sent = fake.requests[0].body["messages"]
    assert sent[1]["tool_calls"][0]["function"]["arguments"] == call.arguments
    assert sent[1]["content"] is None
    assert sent[2] == {"role": "tool", "tool_call_id": "call_1", "content": '{"slots": ["10:00"]}'}


async def test_a_tool_result_answering_no_call_is_refused_like_openai(fake: FakeOpenAI) -> None:
    history = [*HISTORY, Message("tool", "{}", tool_call_id="call_9")]
    provider = llm(fake)
    try:
        with pytest.raises(ProviderError) as refused:
            _ = [e async for e in provider.generate(history, "")]
    finally:
        await provider.close()
    assert refused.value.status == 400
