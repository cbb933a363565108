"""A fake Anthropic Messages API on 127.0.0.1: `POST /v1/messages` streamed, `GET /v1/models`.

Speaks the documented wire format: `x-api-key` and `anthropic-version` headers required;
the stream is `text/event-stream` with `event:`/`data:` pairs message_start (usage with
input_tokens), content_block_start, ping, content_block_delta (text_delta), content_block_stop,
message_delta (stop_reason, cumulative output_tokens), message_stop. A scripted tool call is a
`tool_use` block whose input streams as `input_json_delta` pieces, ending with stop_reason
`tool_use`; a `tool_result` must answer a `tool_use` of the assistant turn just before, and
every `tool_use` must be answered in the next user turn, or the request is a 400. Errors are
`{"type": "error", "error": {"type", "message"}}` with 401 authentication_error,
429 rate_limit_error (with `retry-after`), 529 overloaded_error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.cloud_common import (
    ARGUMENT_PIECE,
    Failure,
    LocalServer,
    Received,
    ScriptedTurn,
    failure_response,
)

FAKE_ANTHROPIC_KEY = "sk-ant-fake-key"
_ERROR_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    429: "rate_limit_error",
    500: "api_error",
    404: "not_found_error",
    529: "overloaded_error",
}
# Models Anthropic has retired: a request names one and gets 404 not_found_error
# (platform.claude.com model deprecations).
RETIRED_MODELS = {
    "claude-3-5-haiku-latest",
    "claude-3-5-haiku-20241022",
    "claude-3-7-sonnet-latest",
    "claude-opus-4-1",
    "claude-opus-4-1-20250805",
}


@dataclass
class FakeAnthropic:
    """Server state: set `reply`, queue `failures`, or `disconnect_after` before a request."""

    api_key: str = FAKE_ANTHROPIC_KEY
    reply: str = "Sure, we are open from nine to five."
    failures: list[Failure] = field(default_factory=list)
    # Drop the connection after this many text deltas (no message_stop).
    disconnect_after: int | None = None
    # Send an `error` event of this type after the first delta.
    stream_error: str | None = None
    # Replies for the next requests, in order; `reply` answers once they are used up.
    turns: list[ScriptedTurn] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    base_url: str = ""
    _server: LocalServer | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_get("/v1/models", self._models)
        self._server = LocalServer(app)
        self.base_url = f"http://127.0.0.1:{await self._server.start()}"
        return self.base_url

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()

    def _refused(self, request: web.Request) -> web.Response | None:
        if request.headers.get("x-api-key") != self.api_key:
            return _error(Failure(401), "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return _error(Failure(400), "anthropic-version header is required")
        return None

    async def _models(self, request: web.Request) -> web.Response:
        self.requests.append(Received(request.path, dict(request.headers)))
        refused = self._refused(request)
        if refused is not None:
            return refused
        data = [{"type": "model", "id": "claude-haiku-4-5", "display_name": "Claude Haiku 4.5"}]
        return web.json_response({"data": data, "has_more": False})

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(Received(request.path, dict(request.headers), body))
        refused = self._refused(request)
        if refused is not None:
            return refused
        if self.failures:
            return _error(self.failures.pop(0), "scripted failure")
        if not isinstance(body.get("max_tokens"), int) or not body.get("messages"):
            return _error(Failure(400), "max_tokens and messages are required")
        if body.get("model") in RETIRED_MODELS:
            return _error(Failure(404), f"model: {body['model']}")
        if body["messages"][0]["role"] != "user":
            return _error(Failure(400), "first message must use the user role")
        unpaired = _unpaired_tool_blocks(body["messages"])
        if unpaired is not None:
            return _error(Failure(400), unpaired)
        stream = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await stream.prepare(request)
        with contextlib.suppress(ConnectionResetError):
            await self._stream(request, stream, body)
        return stream

    async def _stream(
        self, request: web.Request, response: web.StreamResponse, body: dict[str, Any]
    ) -> None:
        async def send(event: str, data: dict[str, Any]) -> None:
            payload = json.dumps({"type": event, **data})
            await response.write(f"event: {event}\ndata: {payload}\n\n".encode())

        turn = self.turns.pop(0) if self.turns else ScriptedTurn(self.reply)
        words = turn.text.split(" ") if turn.text else []
        input_tokens = sum(len(str(m["content"]).split()) for m in body["messages"])
        message: dict[str, Any] = {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": body.get("model"),
            "content": [],
            "stop_reason": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": 1},
        }
        await send("message_start", {"message": message})
        await send(
            "content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}
        )
        await send("ping", {})
        for index, word in enumerate(words):
            if self.disconnect_after is not None and index >= self.disconnect_after:
                assert request.transport is not None
                request.transport.close()
                return
            text = word if index == 0 else " " + word
            await send(
                "content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": text}}
            )
            if self.stream_error is not None:
                await send("error", {"error": {"type": self.stream_error, "message": "Overloaded"}})
                return
            await asyncio.sleep(0)
        await send("content_block_stop", {"index": 0})
        for index, (name, arguments) in enumerate(turn.tool_calls, start=1):
            block = {"type": "tool_use", "id": f"toolu_fake{index}", "name": name, "input": {}}
            await send("content_block_start", {"index": index, "content_block": block})
            for start in range(0, len(arguments), ARGUMENT_PIECE):
                piece = arguments[start : start + ARGUMENT_PIECE]
                delta = {"type": "input_json_delta", "partial_json": piece}
                await send("content_block_delta", {"index": index, "delta": delta})
            await send("content_block_stop", {"index": index})
        stop_reason = "tool_use" if turn.tool_calls else "end_turn"
        await send(
            "message_delta",
            {
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": len(words)},
            },
        )
        await send("message_stop", {})
        await response.write_eof()


def _unpaired_tool_blocks(messages: list[dict[str, Any]]) -> str | None:
    """Anthropic's 400 reasons for tool_use and tool_result blocks that do not pair up."""
    asked: set[str] = set()
    for message in messages:
        blocks = message["content"] if isinstance(message["content"], list) else []
        ids = {b["id"] for b in blocks if b.get("type") == "tool_use"}
        answered = {b["tool_use_id"] for b in blocks if b.get("type") == "tool_result"}
        if message["role"] == "user":
            if answered - asked:
                return "unexpected `tool_use_id` found in `tool_result` blocks"
            if asked - answered:
                return "`tool_use` ids were found without `tool_result` blocks immediately after"
            asked = set()
        else:
            asked = ids
    return None


def _error(failure: Failure, message: str) -> web.Response:
    kind = _ERROR_TYPES.get(failure.status, "invalid_request_error")
    return failure_response(failure, {"type": "error", "error": {"type": kind, "message": message}})
