"""A fake OpenAI audio API on 127.0.0.1: the realtime transcription WebSocket
(`/v1/realtime?intent=transcription`) next to `/v1/audio/transcriptions` and `/v1/models`.

Realtime, as documented for transcription sessions: `Authorization: Bearer` checked at the
handshake (401 JSON error otherwise; 429 scriptable); the server sends `session.created`;
`session.update` with `session.type == "transcription"` and an input format (`audio/pcm` at
24 kHz, `audio/pcmu`, `audio/pcma`) is answered by `session.updated`; audio arrives in
`input_audio_buffer.append` (base64); `input_audio_buffer.commit` is answered by
`input_audio_buffer.committed` (item id), `conversation.item.input_audio_transcription.delta`
events and `.completed` (transcript, token usage), or an `error` with code
`input_audio_buffer_commit_empty` when nothing was appended. The text is scripted.

`session.created` carries `expires_at`, an hour on; with `expire_after_transcripts` the first
session is a short one (30 s) that has expired once that many transcripts were sent: its next
event gets a `session_expired` error and a 1001 close. The GPT transcribe models
(`gpt-live-transcribe`, `gpt-transcribe`) refuse the legacy `language` (they take
`languages`) and keywords with `<`, `>` or line breaks; `gpt-live-transcribe` refuses server
turn detection. `refuse_session` answers every `session.update` with an
`invalid_request_error` of that code.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.cloud_common import Failure, Received, failure_response
from tests.fakes.whisper_transcriptions import FakeTranscriptionServer

_BYTES_PER_SECOND = {"audio/pcmu": 8000, "audio/pcma": 8000, "audio/pcm": 48000}


@dataclass
class FakeOpenAIAudio(FakeTranscriptionServer):
    """The transcription server plus the realtime socket."""

    realtime_text: str = "Please call me back tomorrow"
    realtime_failures: list[Failure] = field(default_factory=list)
    # Refuse the realtime upgrade with this status (a proxy without WebSocket support).
    realtime_status: int | None = None
    # Cut the connection after this many commits have been received (before answering).
    drop_on_commit: int | None = None
    realtime_sessions: list[Received] = field(default_factory=list)
    session_updates: list[dict[str, Any]] = field(default_factory=list)
    realtime_audio: bytearray = field(default_factory=bytearray)
    commits: int = 0
    # End each session (session_expired, close 1001) after this many transcripts.
    expire_after_transcripts: int | None = None
    refuse_session: str | None = None

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/realtime", self._realtime)

    async def _realtime(self, request: web.Request) -> web.StreamResponse:
        self.realtime_sessions.append(
            Received(request.path, dict(request.headers), dict(request.query))
        )
        refused = self._refused(request)
        if refused is not None:
            return refused
        if self.realtime_status is not None:
            return web.Response(status=self.realtime_status, text="Not Found")
        if self.realtime_failures:
            error = {
                "message": "Rate limit reached",
                "type": "requests",
                "code": "rate_limit_exceeded",
            }
            return failure_response(self.realtime_failures.pop(0), {"error": error})
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        short = self.expire_after_transcripts is not None and not self.session_updates
        lifetime = 30 if short else 3600
        session: dict[str, Any] = {
            "type": "transcription",
            "id": f"sess_{uuid.uuid4().hex}",
            "expires_at": int(time.time()) + lifetime,
        }
        await _event(ws, "session.created", session=session)
        buffer = bytearray()
        transcripts = 0
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                await _error(ws, "invalid_request_error", "invalid_event", "expected JSON")
                continue
            event = json.loads(message.data)
            kind = event.get("type")
            if short and transcripts == self.expire_after_transcripts:
                message_text = "Your session hit the maximum duration of 60 minutes."
                await _error(ws, "invalid_request_error", "session_expired", message_text)
                await ws.close(code=1001, message=message_text.encode())
                break
            if kind == "session.update":
                update = event.get("session", {})
                fmt = update.get("audio", {}).get("input", {}).get("format", {}).get("type")
                if update.get("type") != "transcription" or fmt not in _BYTES_PER_SECOND:
                    await _error(ws, "invalid_request_error", "invalid_value", "bad session")
                    continue
                problem = self.refuse_session or _transcription_problem(update)
                if problem is not None:
                    await _error(ws, "invalid_request_error", problem, "session refused")
                    continue
                self.session_updates.append(update)
                session.update(update)
                await _event(ws, "session.updated", session=session)
            elif kind == "input_audio_buffer.append":
                audio = base64.b64decode(event.get("audio", ""))
                buffer += audio
                self.realtime_audio += audio
            elif kind == "input_audio_buffer.commit":
                self.commits += 1
                if self.drop_on_commit is not None and self.commits >= self.drop_on_commit:
                    assert request.transport is not None
                    request.transport.close()
                    break
                if not buffer:
                    await _error(
                        ws,
                        "invalid_request_error",
                        "input_audio_buffer_commit_empty",
                        "buffer too small",
                    )
                    continue
                buffer.clear()
                await self._send_transcript(ws)
                transcripts += 1
            else:
                await _error(ws, "invalid_request_error", "unknown_event", f"unknown {kind}")
        return ws

    async def _send_transcript(self, ws: web.WebSocketResponse) -> None:
        item = f"item_{uuid.uuid4().hex[:12]}"
        await _event(ws, "input_audio_buffer.committed", previous_item_id=None, item_id=item)
        words = self.realtime_text.split(" ")
        for index, word in enumerate(words):
            delta = word if index == 0 else " " + word
            await _event(
                ws,
                "conversation.item.input_audio_transcription.delta",
                item_id=item,
                content_index=0,
                delta=delta,
            )
        usage = {
            "type": "tokens",
            "input_tokens": 40,
            "output_tokens": len(words),
            "total_tokens": 40 + len(words),
        }
        await _event(
            ws,
            "conversation.item.input_audio_transcription.completed",
            item_id=item,
            content_index=0,
            transcript=self.realtime_text,
            usage=usage,
        )


async def _event(ws: web.WebSocketResponse, kind: str, **fields: Any) -> None:
    await ws.send_json({"type": kind, "event_id": f"event_{uuid.uuid4().hex[:12]}", **fields})


async def _error(ws: web.WebSocketResponse, kind: str, code: str, message: str) -> None:
    await _event(
        ws,
        "error",
        error={"type": kind, "code": code, "message": message, "param": None, "event_id": None},
    )


def _transcription_problem(update: dict[str, Any]) -> str | None:
    audio_in = update.get("audio", {}).get("input", {})
    transcription = audio_in.get("transcription", {})
    model = str(transcription.get("model", ""))
    if not model.startswith(("gpt-live-transcribe", "gpt-transcribe")):
        return None
    if "language" in transcription:
        return "unknown_parameter"
    keywords = transcription.get("keywords", [])
    if any(set(str(k)) & {"<", ">", "\r", "\n"} for k in keywords):
        return "invalid_value"
    if model.startswith("gpt-live-transcribe") and audio_in.get("turn_detection"):
        return "invalid_value"
    return None
