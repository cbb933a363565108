"""A fake Gemini API on 127.0.0.1: `POST /v1beta/models/{model}:streamGenerateContent?alt=sse`
and `GET /v1beta/models`.

Speaks the documented wire format: the key in `x-goog-api-key`; each SSE `data:` is a whole
GenerateContentResponse (`candidates[0].content.parts[].text`, role `model`, cumulative
`usageMetadata`, `finishReason: "STOP"` on the last, no `[DONE]`). Errors are Google RPC
JSON `{"error": {"code", "message", "status", "details"}}`: a bad key is 400
INVALID_ARGUMENT with reason API_KEY_INVALID, 429 RESOURCE_EXHAUSTED, 503 UNAVAILABLE.
A shut-down model is 404 NOT_FOUND. `generationConfig.thinkingConfig` is checked as Google
documents it: a `thinkingLevel` (Gemini 3 and later; "minimal" and "medium" on Flash models
only) or a `thinkingBudget` (2.x), never both: 400 INVALID_ARGUMENT otherwise. A scripted
tool call arrives whole as a `functionCall` part with a `thoughtSignature`; as Gemini 3 does,
a history whose `functionCall` part lacks its signature is a 400, and so is a user turn
whose `functionResponse` parts do not match the calls of the model turn before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.cloud_common import (
    Failure,
    LocalServer,
    Received,
    ScriptedTurn,
    failure_response,
)

FAKE_GEMINI_KEY = "AIza-fake-key"
_STATUS = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    404: "NOT_FOUND",
    503: "UNAVAILABLE",
}
# Models Google has shut down (ai.google.dev Gemini deprecations).
SHUT_DOWN_MODELS = {
    "gemini-2.0-flash",
    "gemini-2.0-flash-lite",
    "gemini-2.5-flash",
    "gemini-2.5-pro",
}


@dataclass
class FakeGemini:
    """Server state: set `reply`, queue `failures`, or `disconnect_after` before a request."""

    api_key: str = FAKE_GEMINI_KEY
    reply: str = "We have a slot at three tomorrow."
    # Words per streamed chunk (Gemini sends a few tokens per event).
    words_per_chunk: int = 2
    failures: list[Failure] = field(default_factory=list)
    # Drop the connection after this many chunks (no finishReason).
    disconnect_after: int | None = None
    # Replies for the next requests, in order; `reply` answers once they are used up.
    turns: list[ScriptedTurn] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    base_url: str = ""
    _server: LocalServer | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v1beta/models/{model_action}", self._generate)
        app.router.add_get("/v1beta/models", self._models)
        self._server = LocalServer(app)
        self.base_url = f"http://127.0.0.1:{await self._server.start()}/v1beta"
        return self.base_url

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()

    def _refused(self, request: web.Request) -> web.Response | None:
        if request.headers.get("x-goog-api-key") == self.api_key:
            return None
        details = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
            }
        ]
        return _error(Failure(400), "API key not valid. Please pass a valid API key.", details)

    async def _models(self, request: web.Request) -> web.Response:
        self.requests.append(Received(request.path, dict(request.headers)))
        refused = self._refused(request)
        if refused is not None:
            return refused
        models = [{"name": "models/gemini-3.5-flash-lite", "displayName": "Gemini 3.5 Flash-Lite"}]
        return web.json_response({"models": models})

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(Received(request.path_qs, dict(request.headers), body))
        refused = self._refused(request)
        if refused is not None:
            return refused
        model, _, action = request.match_info["model_action"].partition(":")
        if action != "streamGenerateContent" or request.query.get("alt") != "sse":
            return _error(Failure(404), f"method {action} not found for alt != sse")
        if self.failures:
            return _error(self.failures.pop(0), "scripted failure")
        if model in SHUT_DOWN_MODELS:
            return _error(Failure(404), f"models/{model} is not found for API version v1beta")
        problem = _thinking_problem(model, body.get("generationConfig", {}).get("thinkingConfig"))
        if problem is not None:
            return _error(Failure(400), problem)
        contents = body.get("contents") or []
        if not contents or any(c.get("role") not in ("user", "model") for c in contents):
            return _error(Failure(400), "contents must use roles user and model")
        problem = _function_turn_problem(model, contents)
        if problem is not None:
            return _error(Failure(400), problem)
        stream = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await stream.prepare(request)
        with contextlib.suppress(ConnectionResetError):
            await self._stream(request, stream, model, contents)
        return stream

    async def _stream(
        self,
        request: web.Request,
        response: web.StreamResponse,
        model: str,
        contents: list[dict[str, Any]],
    ) -> None:
        prompt = sum(len(p.get("text", "").split()) for c in contents for p in c["parts"])
        turn = self.turns.pop(0) if self.turns else ScriptedTurn(self.reply)
        words = turn.text.split(" ") if turn.text else []
        pieces = [
            " ".join(words[i : i + self.words_per_chunk])
            for i in range(0, len(words), self.words_per_chunk)
        ]
        calls = [
            {"functionCall": {"name": name, "args": json.loads(arguments)},
             "thoughtSignature": f"sig-fake-{len(self.requests)}-{index}"}
            for index, (name, arguments) in enumerate(turn.tool_calls)
        ]  # fmt: skip
        sent = 0
        for index, piece in enumerate([*pieces, *([None] if calls else [])]):
            if self.disconnect_after is not None and index >= self.disconnect_after:
                assert request.transport is not None
                request.transport.close()
                return
            parts = calls if piece is None else [{"text": piece if index == 0 else " " + piece}]
            sent += len(piece.split()) if piece is not None else len(calls)
            last = index == len(pieces) - (0 if calls else 1)
            candidate: dict[str, Any] = {
                "content": {"parts": parts, "role": "model"},
                "index": 0,
            }
            if last:
                candidate["finishReason"] = "STOP"
            chunk = {
                "candidates": [candidate],
                "usageMetadata": {
                    "promptTokenCount": prompt,
                    "candidatesTokenCount": sent,
                    "totalTokenCount": prompt + sent,
                },
                "modelVersion": model,
                "responseId": "fake-response",
            }
            await response.write(f"data: {json.dumps(chunk)}\r\n\r\n".encode())
            await asyncio.sleep(0)
        await response.write_eof()


def _function_turn_problem(model: str, contents: list[dict[str, Any]]) -> str | None:
    """Gemini's 400 reasons for function calls and responses that do not fit together."""
    asked = 0
    for content in contents:
        calls = [p for p in content["parts"] if "functionCall" in p]
        answers = [p for p in content["parts"] if "functionResponse" in p]
        if content["role"] == "model":
            if model.startswith("gemini-3") and any("thoughtSignature" not in p for p in calls):
                return "Function call is missing a thought_signature in functionCall parts."
            asked = len(calls)
            continue
        if (answers or asked) and len(answers) != asked:
            return (
                "Please ensure that the number of function response parts is equal to the "
                "number of function call parts of the function call turn."
            )
        asked = 0
    return None


def _error(
    failure: Failure, message: str, details: list[dict[str, Any]] | None = None
) -> web.Response:
    error: dict[str, Any] = {
        "code": failure.status,
        "message": message,
        "status": _STATUS.get(failure.status, "UNKNOWN"),
    }
    if details:
        error["details"] = details
    return failure_response(failure, {"error": error})


def _thinking_problem(model: str, thinking: dict[str, Any] | None) -> str | None:
    if not thinking:
        return None
    level, budget = thinking.get("thinkingLevel"), thinking.get("thinkingBudget")
    if level is not None and budget is not None:
        return "You can only set one of thinking budget and thinking level."
    if level is None:
        return None
    if model.startswith("gemini-2."):
        return "Thinking level is not supported for this model."
    allowed = {"minimal", "low", "medium", "high"} if "-flash" in model else {"low", "high"}
    if str(level).lower() not in allowed:
        return f"Thinking level {level} is not supported for this model."
    return None
