"""A fake Moonshot (Kimi) chat-completions server: the OpenAI-compatible fake, with usage
where Moonshot streams it (inside the finishing choice, not a separate usage chunk) and
Moonshot's K2 rules enforced (temperature pinned per mode: a request setting one is refused
with Moonshot's 400). Tool calls stream as OpenAI's do (Moonshot's tool-use guide)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.cloud_common import ARGUMENT_PIECE, ScriptedTurn
from tests.fakes.openai_compatible import FakeOpenAI


@dataclass
class FakeMoonshot(FakeOpenAI):
    """`FakeOpenAI` speaking Moonshot's streaming dialect."""

    async def _stream(
        self, request: web.Request, response: web.StreamResponse, body: dict[str, Any]
    ) -> None:
        base = {
            "id": "chatcmpl-moonshot",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model"),
        }

        async def send(choice: dict[str, Any]) -> None:
            chunk = {**base, "choices": [{"index": 0, **choice}]}
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())

        turn = self.turns.pop(0) if self.turns else ScriptedTurn(self.reply)
        await send({"delta": {"role": "assistant", "content": ""}, "finish_reason": None})
        words = turn.text.split(" ") if turn.text else []
        for index, word in enumerate(words):
            text = word if index == 0 else " " + word
            await send({"delta": {"content": text}, "finish_reason": None})
        for index, (name, arguments) in enumerate(turn.tool_calls):
            opening = {
                "index": index,
                "id": f"{name}:{index}",  # Moonshot's ids read "function_name:index"
                "type": "function",
                "function": {"name": name, "arguments": ""},
            }
            await send({"delta": {"tool_calls": [opening]}, "finish_reason": None})
            for start in range(0, len(arguments), ARGUMENT_PIECE):
                piece = {
                    "index": index,
                    "function": {"arguments": arguments[start : start + ARGUMENT_PIECE]},
                }
                await send({"delta": {"tool_calls": [piece]}, "finish_reason": None})
        finish = "tool_calls" if turn.tool_calls else "stop"
        await send({"delta": {}, "finish_reason": finish, "usage": self._usage(body)})
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if str(body.get("model", "")).startswith("kimi-k2") and "temperature" in body:
            error = {
                "message": "invalid temperature: only 0.6 is allowed for this model",
                "type": "invalid_request_error",
            }
            return web.json_response({"error": error}, status=400)
        return await super()._chat(request)
