"""A fake OpenAI-compatible server (chat completions over SSE, model list) on 127.0.0.1.

It speaks the documented wire format: `POST /v1/chat/completions` with `stream: true` answers
`text/event-stream` chunks `data: {"object": "chat.completion.chunk", ...}` (a role chunk,
content deltas, a chunk with `finish_reason`, the usage chunk with empty `choices` when
`stream_options.include_usage` is set) and `data: [DONE]`; errors are JSON bodies
`{"error": {"message", "type", "code"}}` with the real status codes (401 bad key, 429 rate
limit with `Retry-After`, 5xx). `reasoning_effort` is checked per model family as OpenAI
does: o-series low/medium/high, gpt-5 minimal/low/medium/high, gpt-5.1 and later
none/low/medium/high, gpt-6 none to max; anything else is 400 `unsupported_value`. Tests
script failures and replies through attributes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.cloud_common import ARGUMENT_PIECE, ScriptedTurn

__all__ = ["FAKE_API_KEY", "Failure", "FakeOpenAI", "RecordedRequest", "ScriptedTurn"]

FAKE_API_KEY = "sk-test-fake-key"


@dataclass
class Failure:
    """One scripted error answer for the next chat request."""

    status: int
    retry_after: float | None = None


@dataclass
class RecordedRequest:
    """A chat-completions request as received, with its arrival time (monotonic)."""

    body: dict[str, Any]
    headers: dict[str, str]
    at: float


@dataclass
class FakeOpenAI:
    """Server state. Set `reply`, queue `failures`, `disconnect_after` or `error_after`."""

    api_key: str | None = FAKE_API_KEY
    models: list[str] = field(default_factory=lambda: ["gpt-fake-mini", "gpt-fake"])
    reply: str = "Hello! How can I help you today?"
    chunk_delay: float = 0.0
    first_token_delay: float = 0.0
    failures: list[Failure] = field(default_factory=list)
    # Drop the connection after this many content chunks (no finish, no [DONE]).
    disconnect_after: int | None = None
    # Send an in-stream error event after this many content chunks, then end the stream
    # (what OpenAI-compatible servers do when generation fails after the headers went out).
    error_after: int | None = None
    # Replies for the next requests, in order; `reply` answers once they are used up.
    turns: list[ScriptedTurn] = field(default_factory=list)
    # When set, each reply is chosen from the request's messages instead (as a model answers
    # the conversation): a retried or repeated request gets the same answer.
    answer: Callable[[list[dict[str, Any]]], ScriptedTurn] | None = None
    requests: list[RecordedRequest] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    base_url: str = ""

    async def start(self) -> str:
        """Listen on an ephemeral port; returns the base URL ending in `/v1`."""
        app = web.Application()
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/chat/completions", self._chat)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _unauthorized(self, request: web.Request) -> web.Response | None:
        if self.api_key is None:
            return None
        if request.headers.get("Authorization") == f"Bearer {self.api_key}":
            return None
        return _error(
            401,
            "Incorrect API key provided.",
            "invalid_request_error",
            "invalid_api_key",
        )

    async def _models(self, request: web.Request) -> web.Response:
        refused = self._unauthorized(request)
        if refused is not None:
            return refused
        created = int(time.time())
        data = [
            {"id": m, "object": "model", "created": created, "owned_by": "fake"}
            for m in self.models
        ]
        return web.json_response({"object": "list", "data": data})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(RecordedRequest(body, dict(request.headers), time.monotonic()))
        refused = self._unauthorized(request)
        if refused is not None:
            return refused
        if self.failures:
            failure = self.failures.pop(0)
            response = _error(
                failure.status,
                "Rate limit reached for requests" if failure.status == 429 else "Server error",
                "requests" if failure.status == 429 else "server_error",
                "rate_limit_exceeded" if failure.status == 429 else None,
            )
            if failure.retry_after is not None:
                response.headers["Retry-After"] = str(failure.retry_after)
            return response
        if not body.get("messages"):
            return _error(400, "'messages' is a required property", "invalid_request_error")
        refused_tools = _tool_turn_refusal(body["messages"])
        if refused_tools is not None:
            return refused_tools
        refused_effort = _effort_refusal(str(body.get("model", "")), body.get("reasoning_effort"))
        if refused_effort is not None:
            return refused_effort
        if not body.get("stream"):
            return web.json_response(self._completion(body))
        stream = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await stream.prepare(request)
        # The client may go away mid-stream, as clients do on barge-in.
        with contextlib.suppress(ConnectionResetError):
            await self._stream(request, stream, body)
        return stream

    def _completion(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": self.reply},
                    "finish_reason": "stop",
                }
            ],
            "usage": self._usage(body),
        }

    def _usage(self, body: dict[str, Any]) -> dict[str, int]:
        prompt = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
        completion = len(self.reply.split())
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    async def _stream(
        self, request: web.Request, response: web.StreamResponse, body: dict[str, Any]
    ) -> None:
        base = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model"),
            "system_fingerprint": "fp_fake",
        }
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        async def send(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> None:
            chunk = {**base, "choices": choices}
            if include_usage:
                chunk["usage"] = usage
            await response.write(f"data: {_json(chunk)}\n\n".encode())

        if self.answer is not None:
            turn = self.answer(body.get("messages") or [])
        else:
            turn = self.turns.pop(0) if self.turns else ScriptedTurn(self.reply)
        await asyncio.sleep(self.first_token_delay)
        await send([_choice({"role": "assistant", "content": "", "refusal": None})])
        words = turn.text.split(" ") if turn.text else []
        for index, word in enumerate(words):
            if self.disconnect_after is not None and index >= self.disconnect_after:
                assert request.transport is not None
                request.transport.close()
                return
            if self.error_after is not None and index >= self.error_after:
                error = {"error": {"message": "The server had an error", "type": "server_error"}}
                await response.write(f"data: {_json(error)}\n\n".encode())
                await response.write_eof()
                return
            await send([_choice({"content": word if index == 0 else " " + word})])
            await asyncio.sleep(self.chunk_delay)
        for index, (name, arguments) in enumerate(turn.tool_calls):
            opening = {
                "index": index,
                "id": f"call_fake{len(self.requests)}x{index}",
                "type": "function",
                "function": {"name": name, "arguments": ""},
            }
            await send([_choice({"tool_calls": [opening]})])
            # OpenAI streams the arguments' JSON text in small arbitrary pieces.
            for start in range(0, len(arguments), ARGUMENT_PIECE):
                piece = arguments[start : start + ARGUMENT_PIECE]
                await send(
                    [_choice({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})]
                )
                await asyncio.sleep(self.chunk_delay)
        finish = "tool_calls" if turn.tool_calls else "stop"
        await send([_choice({}, finish_reason=finish)])
        if include_usage:
            await send([], self._usage(body))
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()


def _choice(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}


def _tool_turn_refusal(messages: list[dict[str, Any]]) -> web.Response | None:
    """OpenAI's 400s for tool turns that do not pair up: a `tool` message answering no call of
    the assistant turn before it, or an assistant's call left without its `tool` message."""
    open_ids: set[str] = set()
    for message in [*messages, {"role": "end"}]:
        if message.get("role") == "tool":
            if message.get("tool_call_id") not in open_ids:
                return _error(
                    400,
                    "Invalid parameter: messages with role 'tool' must be a response to a "
                    "preceeding message with 'tool_calls'.",
                    "invalid_request_error",
                )
            open_ids.discard(str(message["tool_call_id"]))
            continue
        if open_ids:
            return _error(
                400,
                "An assistant message with 'tool_calls' must be followed by tool messages "
                "responding to each 'tool_call_id'. The following tool_call_ids did not have "
                f"response messages: {', '.join(sorted(open_ids))}",
                "invalid_request_error",
            )
        if message.get("role") == "assistant":
            open_ids = {call["id"] for call in message.get("tool_calls") or ()}
    return None


def _effort_refusal(model: str, effort: object) -> web.Response | None:
    if effort is None:
        return None
    if model.startswith(("o1", "o3", "o4")):
        allowed = ["low", "medium", "high"]
    elif model.startswith("gpt-5."):
        allowed = ["none", "low", "medium", "high"]
    elif model.startswith("gpt-6"):
        allowed = ["none", "low", "medium", "high", "xhigh", "max"]
    elif model.startswith("gpt-5"):
        allowed = ["minimal", "low", "medium", "high"]
    else:
        return _error(
            400,
            "Unrecognized request argument supplied: reasoning_effort",
            "invalid_request_error",
        )
    if effort in allowed:
        return None
    listed = ", ".join(f"'{value}'" for value in allowed)
    return _error(
        400,
        f"Unsupported value: 'reasoning_effort' does not support '{effort}' with this model. "
        f"Supported values are: {listed}.",
        "invalid_request_error",
        "unsupported_value",
    )


def _error(status: int, message: str, kind: str, code: str | None = None) -> web.Response:
    payload = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return web.json_response(payload, status=status)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
