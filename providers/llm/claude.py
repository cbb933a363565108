"""Claude over Anthropic's Messages API, streamed as server-sent events.

`POST {base_url}/v1/messages` with `stream: true`, authenticated by `x-api-key` and pinned to
an `anthropic-version`. The stream's events: `message_start` (input tokens), `content_block_*`
(text deltas; a `tool_use` block's arguments as `input_json_delta` pieces, complete at its
`content_block_stop`), `message_delta` (stop reason, output tokens so far), `message_stop`,
`ping`, and `error` (e.g. `overloaded_error` mid-stream). Tools go out as `tools` with an
`input_schema`; calls come back in the history as `tool_use` blocks of the assistant turn,
their results as `tool_result` blocks of the next user turn. Opening the stream is retried
on 429/5xx (529 is Anthropic's "overloaded"), never on 401/403; once text flows, errors
propagate.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import date
from typing import Annotated, Any

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

ANTHROPIC_BASE_URL = "https://api.anthropic.com"
# The API version this client speaks; Anthropic keeps it stable for years.
ANTHROPIC_VERSION = "2023-06-01"
# Error types worth another try when they arrive as an `error` event mid-stream.
_TRANSIENT_ERRORS = {"overloaded_error", "api_error", "rate_limit_error", "timeout_error"}


class ClaudeOptions(CloudOptions, kw_only=True):
    """Claude settings."""

    temperature: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.7
    # Replies are spoken, so short: 300 tokens is about a minute and a half of speech.
    max_tokens: Annotated[int, msgspec.Meta(ge=1, le=64000)] = 300
    read_timeout: Annotated[float, msgspec.Meta(gt=0, le=300)] = 30.0


class _Usage(msgspec.Struct):
    input_tokens: int = 0
    output_tokens: int = 0


class _MessageStart(msgspec.Struct):
    usage: _Usage = msgspec.field(default_factory=_Usage)


class _Delta(msgspec.Struct):
    type: str = ""
    text: str = ""
    partial_json: str = ""
    stop_reason: str | None = None


class _Block(msgspec.Struct):
    type: str = ""
    id: str = ""
    name: str = ""


class _Error(msgspec.Struct):
    type: str = ""
    message: str = ""


class _Event(msgspec.Struct):
    type: str
    index: int = 0
    content_block: _Block | None = None
    message: _MessageStart | None = None
    delta: _Delta | None = None
    usage: _Usage | None = None
    error: _Error | None = None


_event_decoder = msgspec.json.Decoder(_Event)


@register(
    VendorInfo(
        kind=ProviderKind.LLM,
        vendor="claude",
        display_name="Claude (Anthropic)",
        description="Anthropic's Messages API, streamed.",
        # Anthropic's models overview (platform.claude.com, checked 2026-12-05): the current
        # fast models. Claude 3.5 Haiku and Opus 4.1 are retired (requests fail).
        models=["claude-haiku-4-5", "claude-sonnet-4-6"],
        default_model="claude-haiku-4-5",
        needs_api_key=True,
        checked=date(2026, 12, 5),
    ),
    options=ClaudeOptions,
)
class ClaudeLLM(StreamingHttpLLM[ClaudeOptions]):
    """Streaming replies from Claude."""

    vendor = "claude"
    stream_what = "messages"

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config, parse_options(config, ClaudeOptions), ANTHROPIC_BASE_URL)

    def _headers(self) -> dict[str, str]:
        return {
            "x-api-key": self.config.api_key or "",
            "anthropic-version": ANTHROPIC_VERSION,
            "content-type": "application/json",
        }

    async def check_credentials(self) -> None:
        """`GET /v1/models`: authenticated, free, and fast."""
        await self._get("/v1/models", what="models")

    def request_body(
        self, messages: Sequence[Message], system_prompt: str, tools: Sequence[ToolSpec] = ()
    ) -> dict[str, Any]:
        """The Messages API request, streamed."""
        body: dict[str, Any] = {
            "model": self.config.model or "claude-haiku-4-5",
            "max_tokens": self.options.max_tokens,
            "temperature": self.options.temperature,
            "messages": claude_turns(messages),
            "stream": True,
        }
        if system_prompt:
            body["system"] = system_prompt
        if tools:
            body["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in tools
            ]
        return body

    async def generate(
        self, messages: Sequence[Message], system_prompt: str, tools: Sequence[ToolSpec] = ()
    ) -> AsyncIterator[LLMEvent]:
        async for event in self._stream_events(self.request_body(messages, system_prompt, tools)):
            yield event

    def _stream_request(self, content: bytes) -> httpx.Request:
        url = f"{self._base_url}/v1/messages"
        return self.http.build_request("POST", url, content=content, headers=self._headers())

    async def _texts(self, response: httpx.Response) -> AsyncIterator[str]:
        async for event in self._events(response):
            if isinstance(event, TextDelta):
                yield event.text

    async def _events(self, response: httpx.Response) -> AsyncIterator[LLMEvent]:
        output_tokens = 0
        tool_uses: dict[int, tuple[_Block, list[str]]] = {}
        try:
            async for sse in iter_sse(response.aiter_lines()):
                event = self._decode(_event_decoder, sse.data, "event")
                if event.type == "content_block_delta" and event.delta is not None:
                    if event.delta.type == "text_delta" and event.delta.text:
                        yield TextDelta(event.delta.text)
                    elif event.delta.type == "input_json_delta" and event.index in tool_uses:
                        tool_uses[event.index][1].append(event.delta.partial_json)
                elif event.type == "content_block_start" and event.content_block is not None:
                    if event.content_block.type == "tool_use":
                        tool_uses[event.index] = (event.content_block, [])
                elif event.type == "content_block_stop" and event.index in tool_uses:
                    block, pieces = tool_uses.pop(event.index)
                    yield ToolCall(block.id, block.name, "".join(pieces) or "{}")
                elif event.type == "message_start" and event.message is not None:
                    self.usage.input_tokens += event.message.usage.input_tokens
                    output_tokens = event.message.usage.output_tokens
                elif event.type == "message_delta" and event.usage is not None:
                    # Cumulative for the message, so keep the latest rather than adding.
                    output_tokens = event.usage.output_tokens
                elif event.type == "message_stop":
                    return
                elif event.type == "error":
                    error = event.error or _Error()
                    raise ProviderError(
                        f"{self.vendor}: {error.type}: {error.message}",
                        retryable=error.type in _TRANSIENT_ERRORS,
                    )
            raise self._ended_early()
        finally:
            self.usage.output_tokens += output_tokens


def claude_turns(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """The history as Messages API turns: opening with a user turn, strictly alternating
    (consecutive same-role turns joined), tool calls as `tool_use` blocks and their results as
    `tool_result` blocks of a user turn."""
    turns: list[dict[str, Any]] = []
    for message in messages:
        role = "user" if message.role == "tool" else message.role
        content = _content(message)
        if not content:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] = _joined(turns[-1]["content"], content)
        else:
            turns.append({"role": role, "content": content})
    if not turns or turns[0]["role"] != "user":
        turns.insert(0, {"role": "user", "content": CALL_STARTED})
    return turns


def _content(message: Message) -> str | list[dict[str, Any]]:
    """Plain text for a plain turn; content blocks for a tool call or result."""
    if message.role == "tool":
        return [
            {"type": "tool_result", "tool_use_id": message.tool_call_id, "content": message.content}
        ]
    if not message.tool_calls:
        return message.content
    blocks: list[dict[str, Any]] = []
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    for call in message.tool_calls:
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": _input(call)})
    return blocks


def _input(call: ToolCall) -> dict[str, Any]:
    """The call's arguments as the object Claude wrote (an empty one if they were not JSON)."""
    try:
        return msgspec.json.decode(call.arguments or "{}", type=dict[str, Any])
    except msgspec.DecodeError:
        return {}


def _joined(
    first: str | list[dict[str, Any]], second: str | list[dict[str, Any]]
) -> str | list[dict[str, Any]]:
    if isinstance(first, str) and isinstance(second, str):
        return f"{first} {second}".strip()
    return _blocks(first) + _blocks(second)


def _blocks(content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else content
