"""A fake ElevenLabs realtime speech-to-text server on 127.0.0.1: WebSocket
`/v1/speech-to-text/realtime` and `GET /v1/models`.

Speaks the documented protocol: `xi-api-key` header; session settings in the query
(`model_id`, `audio_format` such as `ulaw_8000` or `pcm_16000`, `commit_strategy`,
`language_code`); the server sends `session_started` (with its config) first, or an
`auth_error` message and a close when the key is wrong; the client sends
`input_audio_chunk` messages (`audio_base_64`, `commit`, `sample_rate`); the server answers
`partial_transcript` while audio comes and `committed_transcript` after a commit. A commit
with less than `min_commit_seconds` of uncommitted audio is refused with `commit_throttled`
(as the service does below 0.3 s). A 429 at the handshake can be scripted. The recognizer
is scripted (see `ScriptedRecognizer`).
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field

from aiohttp import WSCloseCode, WSMsgType, web

from tests.fakes.cloud_common import (
    Failure,
    LocalServer,
    Received,
    ScriptedRecognizer,
    failure_response,
)

FAKE_ELEVENLABS_KEY = "xi-fake-key"
_BYTES_PER_SECOND = {"ulaw_8000": 8000, "pcm_8000": 16000, "pcm_16000": 32000}


@dataclass
class FakeElevenLabsSTT:
    """Server state: set `transcript`, queue handshake `failures`, or `drop_after_bytes`."""

    api_key: str = FAKE_ELEVENLABS_KEY
    transcript: str = "Do you have anything on Saturday"
    seconds_per_word: float = 0.2
    failures: list[Failure] = field(default_factory=list)
    drop_after_bytes: int | None = None
    # Send this error message (`message_type`, e.g. quota_exceeded) after the first chunk.
    error_type: str | None = None
    sessions: list[Received] = field(default_factory=list)
    audio: bytearray = field(default_factory=bytearray)
    commits: int = 0
    min_commit_seconds: float = 0.3
    base_url: str = ""
    _server: LocalServer | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/v1/speech-to-text/realtime", self._realtime)
        app.router.add_get("/v1/models", self._models)
        self._server = LocalServer(app)
        self.base_url = f"ws://127.0.0.1:{await self._server.start()}"
        return self.base_url

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()

    async def _models(self, request: web.Request) -> web.Response:
        self.sessions.append(Received(request.path, dict(request.headers)))
        if request.headers.get("xi-api-key") != self.api_key:
            detail = {"status": "invalid_api_key", "message": "Invalid API key"}
            return failure_response(Failure(401), {"detail": detail})
        return web.json_response([{"model_id": "scribe_v2_realtime", "name": "Scribe v2"}])

    async def _realtime(self, request: web.Request) -> web.StreamResponse:
        self.sessions.append(Received(request.path, dict(request.headers), dict(request.query)))
        if self.failures:
            detail = {"status": "rate_limited", "message": "Too many concurrent requests"}
            return failure_response(self.failures.pop(0), {"detail": detail})
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        if request.headers.get("xi-api-key") != self.api_key:
            await ws.send_json({"message_type": "auth_error", "error": "Invalid API key"})
            await ws.close(code=WSCloseCode.POLICY_VIOLATION)
            return ws
        audio_format = request.query.get("audio_format", "pcm_16000")
        config = {
            "sample_rate": 8000 if audio_format.endswith("8000") else 16000,
            "audio_format": audio_format,
            "language_code": request.query.get("language_code"),
            "model_id": request.query.get("model_id"),
            "commit_strategy": request.query.get("commit_strategy", "manual"),
        }
        await ws.send_json(
            {"message_type": "session_started", "session_id": uuid.uuid4().hex, "config": config}
        )
        bytes_per_second = _BYTES_PER_SECOND[audio_format]
        recognizer = ScriptedRecognizer(self.transcript, self.seconds_per_word, bytes_per_second)
        uncommitted = 0
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                await ws.send_json({"message_type": "input_error", "error": "expected JSON text"})
                continue
            chunk = json.loads(message.data)
            if chunk.get("message_type") != "input_audio_chunk":
                await ws.send_json({"message_type": "input_error", "error": "unknown message"})
                continue
            audio = base64.b64decode(chunk.get("audio_base_64", ""))
            self.audio += audio
            uncommitted += len(audio)
            if self.drop_after_bytes is not None and len(self.audio) >= self.drop_after_bytes:
                assert request.transport is not None
                request.transport.close()
                break
            if self.error_type is not None:
                await ws.send_json({"message_type": self.error_type, "error": "scripted error"})
                await ws.close(code=WSCloseCode.POLICY_VIOLATION)
                break
            words = recognizer.hear(len(audio))
            if words is not None:
                await ws.send_json({"message_type": "partial_transcript", "text": " ".join(words)})
            if chunk.get("commit"):
                seconds = uncommitted / bytes_per_second
                if seconds < self.min_commit_seconds:
                    error = (
                        f"Commit request ignored: only {seconds:.2f}s of uncommitted audio. You "
                        f"need at least {self.min_commit_seconds}s of uncommitted audio before "
                        "committing."
                    )
                    await ws.send_json({"message_type": "commit_throttled", "error": error})
                    continue
                uncommitted = 0
                self.commits += 1
                text = " ".join(recognizer.settle())
                await ws.send_json({"message_type": "committed_transcript", "text": text})
        return ws
