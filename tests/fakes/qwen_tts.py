"""A fake Qwen-TTS-Realtime server (Alibaba Cloud Model Studio) on 127.0.0.1.

`GET /api-ws/v1/realtime?model=` upgraded to a WebSocket with `Authorization: Bearer <key>`; a
refused key is a 401 on the upgrade with DashScope's `{"code": "InvalidApiKey", "message",
"request_id"}` body, scripted failures refuse the upgrade with their status. Then the event
protocol: `session.created` on connect; `session.update` answered by `session.updated` (or an
`error` event for a bad value); `input_text_buffer.append` buffers text;
`input_text_buffer.commit` answers `input_text_buffer.committed`, `response.created`, one
`response.audio.delta` (base64 PCM16 at the session rate) per piece, `response.audio.done`,
`response.done` with usage; `session.finish` answers `session.finished` and closes. Sessions
are reused across commits, as the real service allows. The older `qwen-tts-realtime` model
takes 24 kHz only and no `speech_rate` (Model Studio's client-events reference): anything
else in its `session.update` is an `error` event.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.cloud_common import failure_response
from tests.fakes.tts_server import FakeTTSServer

_RATES = {8000, 16000, 24000, 48000}


def _http_error(status: int, code: str, message: str) -> web.Response:
    body = {"code": code, "message": message, "request_id": str(uuid.uuid4())}
    return web.json_response(body, status=status)


def _event(event_type: str, **fields: Any) -> str:
    return json.dumps({"event_id": f"event_{uuid.uuid4().hex[:20]}", "type": event_type, **fields})


@dataclass
class FakeQwenTTS(FakeTTSServer):
    # Texts committed, over all sessions, in order.
    committed: list[str] = field(default_factory=list)
    # The `session` object of each `session.update` received.
    session_updates: list[dict[str, Any]] = field(default_factory=list)
    # Answer the next `session.update` with an `error` event of this code.
    session_error: str | None = None
    # Close each session after its first response (as an idle timeout would).
    close_after_response: bool = False

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/api-ws/v1/realtime", self._realtime)

    async def _realtime(self, request: web.Request) -> web.StreamResponse:
        await self.record(request)
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _http_error(401, "InvalidApiKey", "Invalid API-key provided.")
        failure = self.next_failure()
        if failure is not None:
            body = {
                "code": "Throttling",
                "message": "Requests throttling triggered.",
                "request_id": str(uuid.uuid4()),
            }
            return failure_response(failure, body)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        model = request.query.get("model", "")
        session: dict[str, Any] = {
            "object": "realtime.session",
            "mode": "server_commit",
            "model": model,
            "voice": "Cherry",
            "response_format": "pcm",
            "sample_rate": 24000,
            "id": f"sess_{uuid.uuid4().hex[:12]}",
        }
        await ws.send_str(_event("session.created", session=session))
        buffer: list[str] = []
        async for message in ws:
            if message.type is not WSMsgType.TEXT:
                break
            event = json.loads(message.data)
            kind = event.get("type")
            if kind == "session.update":
                update = event.get("session", {})
                self.session_updates.append(update)
                if self.session_error is not None:
                    code, self.session_error = self.session_error, None
                    await ws.send_str(_event("error", error=_error(code, "session")))
                    continue
                legacy = model.startswith("qwen-tts-realtime")
                if legacy and (
                    "speech_rate" in update or update.get("sample_rate", 24000) != 24000
                ):
                    error = _error("InvalidParameter", "session.sample_rate/speech_rate")
                    await ws.send_str(_event("error", error=error))
                    continue
                if update.get("sample_rate", 24000) not in _RATES:
                    error = _error("invalid_value", "session.sample_rate")
                    await ws.send_str(_event("error", error=error))
                    continue
                session.update(update)
                await ws.send_str(_event("session.updated", session=session))
            elif kind == "input_text_buffer.append":
                buffer.append(str(event.get("text", "")))
            elif kind == "input_text_buffer.commit":
                text, buffer = "".join(buffer), []
                self.committed.append(text)
                if not await self._respond(request, ws, text, int(session["sample_rate"])):
                    return ws
                if self.close_after_response:
                    await ws.close(code=1000, message=b"idle")
                    return ws
            elif kind == "session.finish":
                await ws.send_str(_event("session.finished"))
                await ws.close()
        return ws

    async def _respond(
        self, request: web.Request, ws: web.WebSocketResponse, text: str, rate: int
    ) -> bool:
        """Stream one response; False when the scripted disconnect cut the connection."""
        await ws.send_str(_event("input_text_buffer.committed", item_id="item_1"))
        response_id = f"resp_{uuid.uuid4().hex[:12]}"
        await ws.send_str(_event("response.created", response={"id": response_id}))
        self.sent_at = []
        for index, piece in enumerate(self.audio_pieces(rate, "pcm16")):
            if self.disconnect_after is not None and index >= self.disconnect_after:
                assert request.transport is not None
                request.transport.abort()
                return False
            delta = base64.b64encode(piece).decode()
            await ws.send_str(_event("response.audio.delta", response_id=response_id, delta=delta))
            self.sent_at.append(time.monotonic())
            await asyncio.sleep(self.chunk_delay)
        await ws.send_str(_event("response.audio.done", response_id=response_id))
        usage = {"characters": len(text)}
        done = {"id": response_id, "status": "completed", "usage": usage}
        await ws.send_str(_event("response.done", response=done))
        return True


def _error(code: str, param: str) -> dict[str, str]:
    kind = "throttling_error" if code.startswith("Throttling") else "invalid_request_error"
    return {"type": kind, "code": code, "message": f"{code} at {param}.", "param": param}
