"""Gemini against a fake Gemini API streaming GenerateContentResponse chunks over SSE."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from providers.base import Message, ProviderConfig, ProviderError, TextDelta, ToolCall, ToolSpec
from providers.builtin import load_all
from providers.llm.gemini import GeminiLLM
from providers.registry import build, get
from tests.fakes.cloud_common import Failure, ScriptedTurn
from tests.fakes.gemini_generate import FAKE_GEMINI_KEY, FakeGemini

HISTORY = [
    Message("assistant", "Hello, Bella's salon."),
    Message("user", "Any slot tomorrow?"),
]


@pytest.fixture
async def fake() -> AsyncIterator[FakeGemini]:
    server = FakeGemini()
    await server.start()
    yield server
    await server.stop()


def gemini(fake: FakeGemini, api_key: str = FAKE_GEMINI_KEY, **options: object) -> GeminiLLM:
    load_all()
    config = ProviderConfig(
        vendor="gemini", api_key=api_key, options={"base_url": fake.base_url, **options}
    )
    provider = build("llm", config)
    assert isinstance(provider, GeminiLLM)
    return provider


async def collect(provider: GeminiLLM) -> list[str]:
    try:
        return [delta async for delta in provider.stream(HISTORY, "Be brief.")]
    finally:
        await provider.close()


async def test_streams_parts_and_accounts_tokens(fake: FakeGemini) -> None:
    provider = gemini(fake, temperature=0.2, max_tokens=60)
    deltas = await collect(provider)
    assert "".join(deltas) == fake.reply
    assert len(deltas) == 4
    (request,) = fake.requests
    assert request.path == "/v1beta/models/gemini-3.5-flash-lite:streamGenerateContent?alt=sse"
    assert request.body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert [c["role"] for c in request.body["contents"]] == ["user", "model", "user"]
    config = request.body["generationConfig"]
    assert config == {
        "temperature": 0.2,
        "maxOutputTokens": 60,
        "thinkingConfig": {"thinkingLevel": "minimal"},
    }
    assert provider.usage.requests == 1
    assert provider.usage.output_tokens == len(fake.reply.split())
    assert provider.usage.input_tokens > 0


async def test_every_catalog_model_answers_with_its_quickest_thinking(fake: FakeGemini) -> None:
    load_all()
    info = get("llm", "gemini")
    assert info.default_model in info.models
    for model in info.models:
        config = ProviderConfig(
            vendor="gemini",
            model=model,
            api_key=FAKE_GEMINI_KEY,
            options={"base_url": fake.base_url},
        )
        provider = build("llm", config)
        assert isinstance(provider, GeminiLLM)
        assert "".join(await collect(provider)) == fake.reply
    sent = {r.path.split("/")[-1].split(":")[0]: r.body["generationConfig"] for r in fake.requests}
    assert sent["gemini-3.5-flash"]["thinkingConfig"] == {"thinkingLevel": "minimal"}
    assert sent["gemini-2.5-flash-lite"]["thinkingConfig"] == {"thinkingBudget": 0}


@pytest.mark.parametrize(
    ("model", "options", "expected"),
    [
        ("gemini-3.1-pro-preview", {}, {"thinkingLevel": "low"}),
        ("gemini-3.5-flash", {"thinking_level": "high"}, {"thinkingLevel": "high"}),
        ("gemini-3.5-flash", {"thinking_budget": 512}, {"thinkingBudget": 512}),
        ("gemini-2.5-flash-lite", {"thinking_level": "low"}, {"thinkingBudget": 0}),
    ],
)
async def test_thinking_settings_are_the_ones_the_model_takes(
    fake: FakeGemini, model: str, options: dict[str, object], expected: object
) -> None:
    load_all()
    config = ProviderConfig(
        vendor="gemini",
        model=model,
        api_key=FAKE_GEMINI_KEY,
        options={"base_url": fake.base_url, **options},
    )
    provider = build("llm", config)
    assert isinstance(provider, GeminiLLM)
    assert "".join(await collect(provider)) == fake.reply
    assert fake.requests[-1].body["generationConfig"]["thinkingConfig"] == expected


async def test_bad_key_is_a_refused_credential_without_retry(fake: FakeGemini) -> None:
    with pytest.raises(ProviderError, match="credential refused") as caught:
        await collect(gemini(fake, api_key="AIza-wrong"))
    assert caught.value.retryable is False
    assert len(fake.requests) == 1


async def test_429_then_503_are_retried_with_backoff(fake: FakeGemini) -> None:
    fake.failures = [Failure(429), Failure(503)]
    assert "".join(await collect(gemini(fake))) == fake.reply
    first, second, third = (r.at for r in fake.requests)
    assert second - first >= 0.12
    assert third - second >= 0.24


async def test_mid_stream_disconnect_raises(fake: FakeGemini) -> None:
    fake.disconnect_after = 1
    provider = gemini(fake)
    received: list[str] = []

    async def drain() -> None:
        async for delta in provider.stream(HISTORY, ""):
            received.append(delta)

    with pytest.raises(ProviderError) as caught:
        await drain()
    await provider.close()
    assert caught.value.retryable is True
    assert received == ["We have"]
    assert len(fake.requests) == 1


async def test_check_credentials(fake: FakeGemini) -> None:
    provider = gemini(fake)
    await provider.check_credentials()
    await provider.close()
    bad = gemini(fake, api_key="nope")
    with pytest.raises(ProviderError, match="credential refused"):
        await bad.check_credentials()
    await bad.close()


AVAILABILITY = ToolSpec(
    name="check_availability",
    description="Free slots on a day.",
    parameters={"type": "object", "properties": {"day": {"type": "string"}}},
)


async def test_function_call_comes_after_the_text_with_its_signature(fake: FakeGemini) -> None:
    fake.turns = [
        ScriptedTurn("Let me check that for you.", [("check_availability", '{"day": "Tuesday"}')])
    ]
    provider = gemini(fake)
    try:
        events = [e async for e in provider.generate(HISTORY, "", [AVAILABILITY])]
    finally:
        await provider.close()
    *texts, call = events
    assert all(isinstance(t, TextDelta) for t in texts) and len(texts) == 3
    assert "".join(t.text for t in texts if isinstance(t, TextDelta)) == (
        "Let me check that for you."
    )
    assert isinstance(call, ToolCall)
    assert (call.name, call.arguments, call.signature) == (
        "check_availability",
        '{"day":"Tuesday"}',
        "sig-fake-1-0",
    )
    (tools,) = fake.requests[0].body["tools"]
    assert tools == {
        "functionDeclarations": [
            {
                "name": "check_availability",
                "description": "Free slots on a day.",
                "parameters": AVAILABILITY.parameters,
            }
        ]
    }


async def test_function_response_goes_back_with_the_signed_call(fake: FakeGemini) -> None:
    call = ToolCall("gemini-call-1", "check_availability", '{"day":"Tuesday"}', "sig-1")
    history = [
        *HISTORY,
        Message("assistant", "Let me see.", tool_calls=(call,)),
        Message("tool", '{"slots": ["10:00"]}', tool_call_id="gemini-call-1"),
    ]
    fake.reply = "Tuesday at ten is free."
    provider = gemini(fake)
    try:
        events = [e async for e in provider.generate(history, "", [AVAILABILITY])]
    finally:
        await provider.close()
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == fake.reply
    contents = fake.requests[0].body["contents"]
    assert contents[-2] == {
        "role": "model",
        "parts": [
            {"text": "Let me see."},
            {"functionCall": {"name": "check_availability", "args": {"day": "Tuesday"}},
             "thoughtSignature": "sig-1"},
        ],
    }  # fmt: skip
    assert contents[-1] == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "check_availability",
                                  "response": {"result": '{"slots": ["10:00"]}'}}}
        ],
    }  # fmt: skip


async def test_a_call_without_its_signature_is_refused_like_gemini_3(fake: FakeGemini) -> None:
    call = ToolCall("gemini-call-1", "check_availability", "{}")
    history = [
        *HISTORY,
        Message("assistant", "", tool_calls=(call,)),
        Message("tool", "{}", tool_call_id="gemini-call-1"),
    ]
    provider = gemini(fake)
    try:
        with pytest.raises(ProviderError) as refused:
            _ = [e async for e in provider.generate(history, "")]
    finally:
        await provider.close()
    assert refused.value.status == 400
