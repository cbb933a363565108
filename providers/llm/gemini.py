"""Gemini over the Gemini API's `streamGenerateContent`, streamed as server-sent events.

`POST {base_url}/models/{model}:streamGenerateContent?alt=sse` with `x-goog-api-key`; each
event's data is a whole `GenerateContentResponse` whose `candidates[0].content.parts[].text`
is the next piece of the reply and whose `usageMetadata` is cumulative. Tools go out as
`functionDeclarations`; a call comes back whole as a `functionCall` part, with a
`thoughtSignature` Gemini 3 wants back on that part in the history; its result goes back as
a `functionResponse` part of a user turn. There is no `[DONE]`:
a `finishReason` marks the end. A refused key comes back as HTTP 400 `API_KEY_INVALID` (not
401), so it is reported as a refused credential here; 429 `RESOURCE_EXHAUSTED` and 5xx are
retried while opening the stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import date
from typing import Annotated, Any, Literal

import httpx
import msgspec

from providers.base import (
    LLMEvent,
    Message,
    ProviderConfig,
    ProviderError,
    ProviderKind,
    TextDelta,
    ToolCall,
    ToolSpec,
)
from providers.cloud.options import CloudOptions
from providers.llm.streaming_http import StreamingHttpLLM
from providers.llm.turns import CALL_STARTED
from providers.registry import VendorInfo, parse_options, register
from providers.sse import iter_sse

GEMINI_BASE_URL = "https://generativelanguage.googleapis.com/v1beta"
_INVALID_KEY_REASON = "API_KEY_INVALID"
_INVALID_KEY_MESSAGE = "API key not valid"
DEFAULT_MODEL = "gemini-3.5-flash-lite"


class GeminiOptions(CloudOptions, kw_only=True):
    """Gemini settings."""

    temperature: Annotated[float, msgspec.Meta(ge=0, le=2)] = 0.7
    # Replies are spoken, so short: 300 tokens is about a minute and a half of speech.
    max_tokens: Annotated[int, msgspec.Meta(ge=1, le=65536)] = 300
    # Gemini 3 and later: how much the model thinks before answering. None: "minimal" for
    # the Flash models (a caller waiting in silence wants the answer now), "low" for the
    # others, which have no "minimal".
    thinking_level: Literal["minimal", "low", "medium", "high"] | None = None
    # Gemini 2.x: tokens it may think before answering (-1: as it sees fit). None: 0 for
    # 2.5 Flash and Flash-Lite (no thinking), the model's own default for the others.
    # Google refuses a request carrying both a level and a budget.
    thinking_budget: Annotated[int, msgspec.Meta(ge=-1, le=32768)] | None = None
    read_timeout: Annotated[float, msgspec.Meta(gt=0, le=300)] = 30.0


class _FunctionCall(msgspec.Struct):
    name: str
    args: dict[str, Any] = msgspec.field(default_factory=dict)
    id: str | None = None


class _Part(msgspec.Struct, rename="camel"):
    text: str | None = None
    thought: bool = False
    function_call: _FunctionCall | None = None
    thought_signature: str | None = None


class _Content(msgspec.Struct):
    parts: list[_Part] = msgspec.field(default_factory=list)


class _Candidate(msgspec.Struct, rename="camel"):
    content: _Content | None = None
    finish_reason: str | None = None


class _UsageMetadata(msgspec.Struct, rename="camel"):
    prompt_token_count: int = 0
    candidates_token_count: int = 0
    thoughts_token_count: int = 0


class _Error(msgspec.Struct):
    code: int = 0
    message: str = ""
    status: str = ""


class _Response(msgspec.Struct, rename="camel"):
    candidates: list[_Candidate] = msgspec.field(default_factory=list)
    usage_metadata: _UsageMetadata | None = None
    error: _Error | None = None


_response_decoder = msgspec.json.Decoder(_Response)


@register(
    VendorInfo(
        kind=ProviderKind.LLM,
        vendor="gemini",
        display_name="Gemini (Google)",
        description="Google's Gemini API (AI Studio key), streamed.",
        # Gemini API deprecations page (ai.google.dev, checked 2026-12-05): 2.0 Flash was shut
        # down in June 2026, 2.5 Flash and 2.5 Pro on 2026-12-01; 3.5 Flash-Lite is Google's
        # named replacement for 2.5 Flash; 2.5 Flash-Lite stays until further notice.
        models=[
            "gemini-3.5-flash-lite",
            "gemini-3.5-flash",
            "gemini-3.1-flash-lite",
            "gemini-2.5-flash-lite",
        ],
        default_model=DEFAULT_MODEL,
        needs_api_key=True,
        checked=date(2026, 12, 5),
    ),
    options=GeminiOptions,
)
class GeminiLLM(StreamingHttpLLM[GeminiOptions]):
    """Streaming replies from Gemini."""

    vendor = "gemini"
    stream_what = "generate"

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config, parse_options(config, GeminiOptions), GEMINI_BASE_URL)
        self._model = config.model or DEFAULT_MODEL

    def _headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self.config.api_key or "", "content-type": "application/json"}

    async def check_credentials(self) -> None:
        """`GET /models`: authenticated and free."""
        try:
            await self._get("/models", what="models")
        except ProviderError as exc:
            raise _as_credential_error(exc) from exc

    def request_body(
        self, messages: Sequence[Message], system_prompt: str, tools: Sequence[ToolSpec] = ()
    ) -> dict[str, Any]:
        """The generateContent request."""
        config: dict[str, Any] = {
            "temperature": self.options.temperature,
            "maxOutputTokens": self.options.max_tokens,
        }
        thinking = self._thinking_config()
        if thinking:
            config["thinkingConfig"] = thinking
        body: dict[str, Any] = {"contents": gemini_contents(messages), "generationConfig": config}
        if system_prompt:
            body["systemInstruction"] = {"parts": [{"text": system_prompt}]}
        if tools:
            declarations = [
                {"name": t.name, "description": t.description, "parameters": t.parameters}
                for t in tools
            ]
            body["tools"] = [{"functionDeclarations": declarations}]
        return body

    async def generate(
        self, messages: Sequence[Message], system_prompt: str, tools: Sequence[ToolSpec] = ()
    ) -> AsyncIterator[LLMEvent]:
        async for event in self._stream_events(self.request_body(messages, system_prompt, tools)):
            yield event

    def _thinking_config(self) -> dict[str, Any]:
        """`thinkingLevel` for Gemini 3 and later, `thinkingBudget` for 2.x, never both."""
        level, budget = self.options.thinking_level, self.options.thinking_budget
        if _is_gemini_2(self._model):
            if budget is None and self._model.startswith("gemini-2.5-flash"):
                budget = 0
            return {} if budget is None else {"thinkingBudget": budget}
        if level is None and budget is not None:
            return {"thinkingBudget": budget}
        if level is None:
            level = "minimal" if "-flash" in self._model else "low"
        return {"thinkingLevel": level}

    def _stream_request(self, content: bytes) -> httpx.Request:
        url = f"{self._base_url}/models/{self._model}:streamGenerateContent"
        return self.http.build_request(
            "POST", url, params={"alt": "sse"}, content=content, headers=self._headers()
        )

    async def _open_stream(self, content: bytes) -> httpx.Response:
        try:
            return await super()._open_stream(content)
        except ProviderError as exc:
            raise _as_credential_error(exc) from exc

    async def _texts(self, response: httpx.Response) -> AsyncIterator[str]:
        async for event in self._events(response):
            if isinstance(event, TextDelta):
                yield event.text

    async def _events(self, response: httpx.Response) -> AsyncIterator[LLMEvent]:
        usage = _UsageMetadata()
        finished = False
        calls = 0
        try:
            async for sse in iter_sse(response.aiter_lines()):
                chunk = self._decode(_response_decoder, sse.data, "chunk")
                if chunk.error is not None:
                    raise ProviderError(
                        f"{self.vendor}: {chunk.error.status}: {chunk.error.message}",
                        retryable=chunk.error.code == 429 or chunk.error.code >= 500,
                    )
                if chunk.usage_metadata is not None:
                    usage = chunk.usage_metadata
                for candidate in chunk.candidates[:1]:
                    for part in candidate.content.parts if candidate.content else ():
                        if part.text and not part.thought:
                            yield TextDelta(part.text)
                        elif part.function_call is not None:
                            calls += 1
                            call = part.function_call
                            yield ToolCall(
                                id=call.id or f"gemini-call-{calls}",
                                name=call.name,
                                arguments=msgspec.json.encode(call.args).decode(),
                                signature=part.thought_signature,
                            )
                    if candidate.finish_reason is not None:
                        finished = True
            if not finished:
                raise self._ended_early()
        finally:
            self.usage.input_tokens += usage.prompt_token_count
            self.usage.output_tokens += usage.candidates_token_count + usage.thoughts_token_count


def _as_credential_error(exc: ProviderError) -> ProviderError:
    """Gemini answers a bad key with 400 API_KEY_INVALID; say what it means."""
    text = str(exc)
    if exc.status == 400 and (_INVALID_KEY_REASON in text or _INVALID_KEY_MESSAGE in text):
        return ProviderError(
            f"gemini: credential refused (HTTP 400 {_INVALID_KEY_REASON})",
            retryable=False,
            status=exc.status,
        )
    return exc


def _is_gemini_2(model: str) -> bool:
    """Gemini 2.x takes a thinking budget; 3 and later take a thinking level."""
    return model.startswith("gemini-2.")


def gemini_contents(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """The history as Gemini contents: opening with a user turn, roles alternating (text of
    consecutive same-role turns joined), tool calls as `functionCall` parts and their results
    as `functionResponse` parts of a user turn."""
    names = {call.id: call.name for m in messages for call in m.tool_calls}
    contents: list[dict[str, Any]] = []
    for message in messages:
        role = "model" if message.role == "assistant" else "user"
        parts = _parts(message, names)
        if not parts:
            continue
        if contents and contents[-1]["role"] == role:
            previous = contents[-1]["parts"]
            if "text" in previous[-1] and "text" in parts[0]:
                joined = f"{previous[-1]['text']} {parts.pop(0)['text']}".strip()
                previous[-1] = {"text": joined}
            previous.extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    if not contents or contents[0]["role"] != "user":
        contents.insert(0, {"role": "user", "parts": [{"text": CALL_STARTED}]})
    return contents


def _parts(message: Message, names: dict[str, str]) -> list[dict[str, Any]]:
    if message.role == "tool":
        call_id = message.tool_call_id or ""
        response = {"name": names.get(call_id, ""), "response": {"result": message.content}}
        return [{"functionResponse": response}]
    parts: list[dict[str, Any]] = [{"text": message.content}] if message.content else []
    for call in message.tool_calls:
        part: dict[str, Any] = {"functionCall": {"name": call.name, "args": _args(call)}}
        if call.signature:
            part["thoughtSignature"] = call.signature
        parts.append(part)
    return parts


def _args(call: ToolCall) -> dict[str, Any]:
    """The call's arguments as the object Gemini wrote (an empty one if they were not JSON)."""
    try:
        return msgspec.json.decode(call.arguments or "{}", type=dict[str, Any])
    except msgspec.DecodeError:
        return {}
