"""Claude against a fake Anthropic Messages API speaking the real SSE events."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from providers.base import Message, ProviderConfig, ProviderError, TextDelta, ToolCall, ToolSpec
from providers.builtin import load_all
from providers.llm.claude import ANTHROPIC_VERSION, ClaudeLLM
from providers.llm.turns import CALL_STARTED
from providers.registry import build, get
from tests.fakes.anthropic_messages import FAKE_ANTHROPIC_KEY, FakeAnthropic
from tests.fakes.cloud_common import Failure, ScriptedTurn

HISTORY = [
    Message("assistant", "Hello, Bella's salon."),
    Message("user", "When are you open?"),
]


@pytest.fixture
async def fake() -> AsyncIterator[FakeAnthropic]:
    server = FakeAnthropic()
    await server.start()
    yield server
    await server.stop()


def claude(fake: FakeAnthropic, api_key: str = FAKE_ANTHROPIC_KEY, **options: object) -> ClaudeLLM:
    load_all()
    config = ProviderConfig(
        vendor="claude", api_key=api_key, options={"base_url": fake.base_url, **options}
    )
    provider = build("llm", config)
    assert isinstance(provider, ClaudeLLM)
    return provider


async def collect(provider: ClaudeLLM) -> list[str]:
    try:
        return [delta async for delta in provider.stream(HISTORY, "Be brief.")]
    finally:
        await provider.close()


async def test_streams_text_deltas_and_accounts_tokens(fake: FakeAnthropic) -> None:
    provider = claude(fake, temperature=0.3, max_tokens=80)
    deltas = await collect(provider)
    assert "".join(deltas) == fake.reply
    assert len(deltas) == len(fake.reply.split())
    (request,) = fake.requests
    assert request.headers["anthropic-version"] == ANTHROPIC_VERSION
    assert request.body["stream"] is True
    assert request.body["model"] == "claude-haiku-4-5"
    assert request.body["system"] == "Be brief."
    assert request.body["max_tokens"] == 80
    assert request.body["temperature"] == 0.3
    # A call opens with the agent's greeting; Claude wants a user turn first.
    assert [m["role"] for m in request.body["messages"]] == ["user", "assistant", "user"]
    assert request.body["messages"][0]["content"] == CALL_STARTED
    assert provider.usage.requests == 1
    assert provider.usage.input_tokens == len(CALL_STARTED.split()) + 3 + 4
    assert provider.usage.output_tokens == len(fake.reply.split())


async def test_bad_key_fails_without_retry(fake: FakeAnthropic) -> None:
    with pytest.raises(ProviderError, match="credential refused") as caught:
        await collect(claude(fake, api_key="sk-ant-wrong"))
    assert caught.value.status == 401
    assert caught.value.retryable is False
    assert len(fake.requests) == 1


async def test_429_then_success_is_retried_with_backoff(fake: FakeAnthropic) -> None:
    fake.failures = [Failure(429), Failure(529)]
    provider = claude(fake)
    assert "".join(await collect(provider)) == fake.reply
    first, second, third = (r.at for r in fake.requests)
    assert second - first >= 0.12
    assert third - second >= 0.24
    assert provider.usage.requests == 1


async def test_retry_after_is_honoured(fake: FakeAnthropic) -> None:
    fake.failures = [Failure(429, retry_after=0.5)]
    assert "".join(await collect(claude(fake))) == fake.reply
    first, second = (r.at for r in fake.requests)
    assert second - first >= 0.45


async def test_mid_stream_disconnect_raises(fake: FakeAnthropic) -> None:
    fake.disconnect_after = 2
    provider = claude(fake)
    received: list[str] = []

    async def drain() -> None:
        async for delta in provider.stream(HISTORY, ""):
            received.append(delta)

    with pytest.raises(ProviderError) as caught:
        await drain()
    await provider.close()
    assert caught.value.retryable is True
    assert "".join(received) == "Sure, we"
    assert len(fake.requests) == 1


async def test_overloaded_error_event_mid_stream(fake: FakeAnthropic) -> None:
    fake.stream_error = "overloaded_error"
    with pytest.raises(ProviderError, match="overloaded_error") as caught:
        await collect(claude(fake))
    assert caught.value.retryable is True


async def test_check_credentials(fake: FakeAnthropic) -> None:
    provider = claude(fake)
    await provider.check_credentials()
    await provider.close()
    bad = claude(fake, api_key="nope")
    with pytest.raises(ProviderError, match="credential refused"):
        await bad.check_credentials()
    await bad.close()
    assert [r.path for r in fake.requests] == ["/v1/models", "/v1/models"]


async def test_every_catalog_model_is_one_anthropic_still_serves(fake: FakeAnthropic) -> None:
    load_all()
    info = get("llm", "claude")
    assert info.default_model in info.models
    for model in info.models:
        config = ProviderConfig(
            vendor="claude",
            api_key=FAKE_ANTHROPIC_KEY,
            model=model,
            options={"base_url": fake.base_url},
        )
        provider = build("llm", config)
        assert isinstance(provider, ClaudeLLM)
        assert "".join(await collect(provider)) == fake.reply


AVAILABILITY = ToolSpec(
    name="check_availability",
    description="Free slots on a day.",
    parameters={"type": "object", "properties": {"day": {"type": "string"}}},
)


async def test_tool_use_streams_text_first_then_the_assembled_call(fake: FakeAnthropic) -> None:
    arguments = '{"day": "Tuesday", "party": 4}'
    fake.turns = [ScriptedTurn("Let me check that for you.", [("check_availability", arguments)])]
    provider = claude(fake)
    try:
        events = [e async for e in provider.generate(HISTORY, "", [AVAILABILITY])]
    finally:
        await provider.close()
    *texts, call = events
    assert all(isinstance(t, TextDelta) for t in texts) and len(texts) == 6
    assert "".join(t.text for t in texts if isinstance(t, TextDelta)) == (
        "Let me check that for you."
    )
    assert call == ToolCall("toolu_fake1", "check_availability", arguments)
    (tool,) = fake.requests[0].body["tools"]
    assert tool == {
        "name": "check_availability",
        "description": "Free slots on a day.",
        "input_schema": AVAILABILITY.parameters,
    }


async def test_tool_result_goes_back_as_a_tool_result_block(fake: FakeAnthropic) -> None:
    call = ToolCall("toolu_1", "check_availability", '{"day": "Tuesday"}')
    history = [
        *HISTORY,
        Message("assistant", "Let me see.", tool_calls=(call,)),
        Message("tool", '{"slots": ["10:00"]}', tool_call_id="toolu_1"),
    ]
    fake.reply = "Tuesday at ten is free."
    provider = claude(fake)
    try:
        events = [e async for e in provider.generate(history, "", [AVAILABILITY])]
    finally:
        await provider.close()
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == fake.reply
    sent = fake.requests[0].body["messages"]
    assert sent[-2] == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Let me see."},
            {"type": "tool_use", "id": "toolu_1", "name": "check_availability",
             "input": {"day": "Tuesday"}},
        ],
    }  # fmt: skip
    assert sent[-1] == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": '{"slots": ["10:00"]}'}
        ],
    }


async def test_a_tool_call_left_unanswered_is_refused_like_anthropic(fake: FakeAnthropic) -> None:
    call = ToolCall("toolu_1", "check_availability", "{}")
    history = [*HISTORY, Message("assistant", "", tool_calls=(call,)), Message("user", "Hello?")]
    provider = claude(fake)
    try:
        with pytest.raises(ProviderError) as refused:
            _ = [e async for e in provider.generate(history, "")]
    finally:
        await provider.close()
    assert refused.value.status == 400
