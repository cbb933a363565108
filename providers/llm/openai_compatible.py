"""OpenAI-compatible chat completions (`POST {base_url}/chat/completions`, streamed as SSE).

This is how local LLM servers (llama.cpp server, Ollama, vLLM, LM Studio) are plugged in, and
the shared client of every vendor that speaks the same API (OpenAI itself, Kimi/Moonshot…):
such a vendor subclasses `OpenAICompatibleLLM`, sets `vendor` and `default_base_url`, and
registers its own `VendorInfo`.

Retries (429/5xx/connection failures, never 401/403) happen only while opening the stream;
once deltas flow, a failure raises `ProviderError` so the pipeline decides what to do.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Annotated, Any, ClassVar

import httpx
import msgspec
import structlog

from providers.base import (
    LLMEvent,
    LLMProvider,
    Message,
    ProviderConfig,
    ProviderError,
    ProviderKind,
    TextDelta,
    ToolCall,
    ToolSpec,
)
from providers.http import error_for_status, error_for_transport
from providers.registry import VendorInfo, parse_options, register
from providers.retry import RetryPolicy, with_retries
from providers.sse import iter_sse

log = structlog.get_logger(__name__)

# Where `llama-server` listens by default; Ollama users set http://127.0.0.1:11434/v1.
LOCAL_BASE_URL = "http://127.0.0.1:8080/v1"
_DONE = "[DONE]"


class OpenAICompatibleOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Per-agent settings of an OpenAI-compatible LLM."""

    # Up to and including the version segment, e.g. http://127.0.0.1:11434/v1.
    base_url: str | None = None
    temperature: Annotated[float, msgspec.Meta(ge=0, le=2)] = 0.7
    # Replies are spoken, so short: 300 tokens is about a minute and a half of speech.
    max_tokens: Annotated[int, msgspec.Meta(ge=1, le=32768)] = 300
    connect_timeout: Annotated[float, msgspec.Meta(gt=0, le=60)] = 5.0
    # Longest silence between bytes, including the wait for the first token.
    read_timeout: Annotated[float, msgspec.Meta(gt=0, le=300)] = 30.0
    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=6)] = 3
    # Ask for the final usage chunk; turn off for servers that reject `stream_options`.
    include_usage: bool = True
    api_key_header: str = "Authorization"
    api_key_prefix: str = "Bearer "


class _FunctionDelta(msgspec.Struct):
    name: str | None = None
    arguments: str | None = None


class _ToolCallDelta(msgspec.Struct):
    # The first piece of a call brings its id and name; later ones append to its arguments.
    index: int = 0
    id: str | None = None
    function: _FunctionDelta | None = None


class _Delta(msgspec.Struct):
    content: str | None = None
    tool_calls: list[_ToolCallDelta] | None = None


class _Usage(msgspec.Struct):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class _Choice(msgspec.Struct):
    delta: _Delta | None = None
    finish_reason: str | None = None
    # Moonshot (Kimi) reports usage inside the finishing choice rather than at the top.
    usage: _Usage | None = None


class _ErrorBody(msgspec.Struct):
    message: str = ""
    type: str | None = None
    code: str | int | None = None


class _Chunk(msgspec.Struct):
    choices: list[_Choice] | None = None
    usage: _Usage | None = None
    error: _ErrorBody | None = None


_chunk_decoder = msgspec.json.Decoder(_Chunk)


class StreamUsage(msgspec.Struct):
    """What one streamed request cost, filled in as the stream is read."""

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0


class OpenAICompatibleClient:
    """HTTP side of the chat-completions API: streaming, retries, usage, credential check."""

    def __init__(
        self,
        *,
        vendor: str,
        base_url: str,
        api_key: str | None,
        options: OpenAICompatibleOptions,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.vendor = vendor
        self.base_url = base_url.rstrip("/")
        self.options = options
        self.retry = RetryPolicy(attempts=options.max_attempts)
        headers: dict[str, str] = {}
        if api_key:
            headers[options.api_key_header] = options.api_key_prefix + api_key
        self._headers = headers
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(options.read_timeout, connect=options.connect_timeout)
        )

    async def aclose(self) -> None:
        """Close the HTTP connection pool if this client created it."""
        if self._owns_http:
            await self._http.aclose()

    async def list_models(self) -> list[str]:
        """`GET /models`: the ids the server offers (also the cheapest credential check)."""

        async def attempt() -> bytes:
            try:
                response = await self._http.get(f"{self.base_url}/models", headers=self._headers)
            except httpx.TransportError as exc:
                raise error_for_transport(self.vendor, exc) from exc
            if response.status_code != 200:
                raise error_for_status(self.vendor, response, response.content)
            return response.content

        body = await with_retries(attempt, self.retry, what=f"{self.vendor} models")
        try:
            listing = msgspec.json.decode(body, type=dict[str, Any])
            return [str(model["id"]) for model in listing.get("data", [])]
        except (msgspec.DecodeError, KeyError, TypeError) as exc:
            raise ProviderError(
                f"{self.vendor}: unreadable model list: {exc}", retryable=False
            ) from exc

    async def stream_chat(
        self, payload: dict[str, Any], usage_sink: StreamUsage
    ) -> AsyncIterator[LLMEvent]:
        """POST `payload` (with `stream: true` set here) and yield text deltas and tool calls."""
        body = msgspec.json.encode({**payload, "stream": True})
        request = self._http.build_request(
            "POST",
            f"{self.base_url}/chat/completions",
            content=body,
            headers={
                **self._headers,
                "Accept": "text/event-stream",
                "Content-Type": "application/json",
            },
        )

        async def open_stream() -> httpx.Response:
            try:
                response = await self._http.send(request, stream=True)
            except httpx.TransportError as exc:
                raise error_for_transport(self.vendor, exc) from exc
            if response.status_code != 200:
                error_body = await response.aread()
                await response.aclose()
                raise error_for_status(self.vendor, response, error_body)
            return response

        response = await with_retries(open_stream, self.retry, what=f"{self.vendor} chat")
        usage_sink.requests += 1
        try:
            async for delta in self._deltas(response, usage_sink):
                yield delta
        except httpx.TransportError as exc:
            raise error_for_transport(self.vendor, exc) from exc
        finally:
            await response.aclose()

    async def _deltas(
        self, response: httpx.Response, usage: StreamUsage
    ) -> AsyncIterator[LLMEvent]:
        finished = False
        calls = _ToolCalls()
        async for event in iter_sse(response.aiter_lines()):
            if event.data == _DONE:
                return
            try:
                chunk = _chunk_decoder.decode(event.data)
            except msgspec.DecodeError as exc:
                raise ProviderError(
                    f"{self.vendor}: malformed stream chunk: {exc}", retryable=True
                ) from exc
            if chunk.error is not None:
                raise ProviderError(f"{self.vendor}: {chunk.error.message}", retryable=True)
            if chunk.usage is not None:
                usage.input_tokens += chunk.usage.prompt_tokens
                usage.output_tokens += chunk.usage.completion_tokens
            for choice in chunk.choices or ():
                if choice.usage is not None and chunk.usage is None:
                    usage.input_tokens += choice.usage.prompt_tokens
                    usage.output_tokens += choice.usage.completion_tokens
                if choice.delta is not None and choice.delta.content:
                    yield TextDelta(choice.delta.content)
                if choice.delta is not None and choice.delta.tool_calls:
                    calls.add(choice.delta.tool_calls)
                if choice.finish_reason is not None:
                    finished = True
                    for call in calls.complete():
                        yield call
        if not finished:
            raise ProviderError(f"{self.vendor}: stream ended before the reply did", retryable=True)


class _ToolCalls:
    """Tool calls assembled from their streamed pieces, keyed by the index the stream gives."""

    def __init__(self) -> None:
        self._ids: dict[int, str] = {}
        self._names: dict[int, str] = {}
        self._arguments: dict[int, list[str]] = {}

    def add(self, pieces: list[_ToolCallDelta]) -> None:
        for piece in pieces:
            if piece.id:
                self._ids[piece.index] = piece.id
            function = piece.function or _FunctionDelta()
            if function.name:
                self._names[piece.index] = self._names.get(piece.index, "") + function.name
            if function.arguments:
                self._arguments.setdefault(piece.index, []).append(function.arguments)

    def complete(self) -> list[ToolCall]:
        """The calls gathered so far, in index order; forgets them."""
        calls = [
            ToolCall(
                id=self._ids.get(index) or f"call_{index}",
                name=self._names[index],
                arguments="".join(self._arguments.get(index, ())) or "{}",
            )
            for index in sorted(self._names)
        ]
        self._ids.clear()
        self._names.clear()
        self._arguments.clear()
        return calls


def _chat_message(message: Message) -> dict[str, Any]:
    """One history turn as chat completions takes it (tool calls and results included)."""
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    entry: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        entry["content"] = message.content or None
        entry["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in message.tool_calls
        ]
    return entry


@register(
    VendorInfo(
        kind=ProviderKind.LLM,
        vendor="openai_compatible",
        display_name="OpenAI-compatible server",
        description=(
            "Any server speaking OpenAI chat completions at a base URL you choose: llama.cpp "
            "server, Ollama, vLLM, LM Studio. The API key is optional."
        ),
        default_model="default",
    ),
    options=OpenAICompatibleOptions,
)
class OpenAICompatibleLLM(LLMProvider):
    """Streaming chat completions from any OpenAI-compatible server."""

    vendor = "openai_compatible"
    default_base_url: ClassVar[str] = LOCAL_BASE_URL
    # A vendor subclass may narrow or extend the options (e.g. Kimi's temperature range).
    options_type: ClassVar[type[OpenAICompatibleOptions]] = OpenAICompatibleOptions

    def __init__(self, config: ProviderConfig, *, http: httpx.AsyncClient | None = None) -> None:
        super().__init__(config)
        self.options = parse_options(config, self.options_type)
        self._http = http
        self._client: OpenAICompatibleClient | None = None

    @property
    def client(self) -> OpenAICompatibleClient:
        """The HTTP client, created on first use (so `connect` is optional)."""
        if self._client is None:
            self._client = OpenAICompatibleClient(
                vendor=self.vendor,
                base_url=self.options.base_url or self.default_base_url,
                api_key=self.config.api_key,
                options=self.options,
                http=self._http,
            )
        return self._client

    async def connect(self) -> None:
        _ = self.client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def check_credentials(self) -> None:
        await self.client.list_models()

    async def stream(self, messages: Sequence[Message], system_prompt: str) -> AsyncIterator[str]:
        async for event in self.generate(messages, system_prompt):
            if isinstance(event, TextDelta):
                yield event.text

    async def generate(
        self, messages: Sequence[Message], system_prompt: str, tools: Sequence[ToolSpec] = ()
    ) -> AsyncIterator[LLMEvent]:
        payload = self.request_payload(messages, system_prompt)
        if tools:
            payload["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": tool.parameters,
                    },
                }
                for tool in tools
            ]
        sink = StreamUsage()
        try:
            async for event in self.client.stream_chat(payload, sink):
                yield event
        finally:
            self.usage.requests += sink.requests
            self.usage.input_tokens += sink.input_tokens
            self.usage.output_tokens += sink.output_tokens

    def request_payload(self, messages: Sequence[Message], system_prompt: str) -> dict[str, Any]:
        """The chat-completions request body (without `stream`); subclasses may add fields."""
        chat: list[dict[str, Any]] = []
        if system_prompt:
            chat.append({"role": "system", "content": system_prompt})
        chat.extend(_chat_message(m) for m in messages)
        payload: dict[str, Any] = {
            "model": self.config.model or "default",
            "messages": chat,
            "temperature": self.options.temperature,
            "max_tokens": self.options.max_tokens,
        }
        if self.options.include_usage:
            payload["stream_options"] = {"include_usage": True}
        return payload
