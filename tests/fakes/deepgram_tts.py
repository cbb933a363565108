"""A fake Deepgram Aura REST TTS server on 127.0.0.1.

`POST /v1/speak?model=&encoding=&sample_rate=&container=none` with `Authorization: Token <key>`
and `{"text": ...}` answers 200 with headerless audio in the requested encoding, chunked as it
would be generated, plus `dg-request-id`/`dg-char-count` headers; errors are Deepgram's JSON
`{"err_code", "err_msg", "request_id"}` with the real statuses (401 INVALID_AUTH, 429
TOO_MANY_REQUESTS with `Retry-After`). `GET /v1/projects` lists projects (credential check).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from aiohttp import web

from tests.fakes.cloud_common import failure_response
from tests.fakes.tts_server import FakeTTSServer

_ENCODINGS = {"mulaw": ("ulaw", "audio/basic"), "alaw": ("alaw", "audio/x-alaw-basic")}


def _error(status: int, code: str, message: str) -> web.Response:
    body = {"err_code": code, "err_msg": message, "request_id": str(uuid.uuid4())}
    return web.json_response(body, status=status)


@dataclass
class FakeDeepgramTTS(FakeTTSServer):
    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/speak", self._speak)
        app.router.add_get("/v1/projects", self._projects)

    def _refused(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") == f"Token {self.api_key}":
            return None
        return _error(401, "INVALID_AUTH", "Invalid credentials.")

    async def _projects(self, request: web.Request) -> web.Response:
        await self.record(request)
        refused = self._refused(request)
        if refused is not None:
            return refused
        return web.json_response({"projects": [{"project_id": "p-1", "name": "Test"}]})

    async def _speak(self, request: web.Request) -> web.StreamResponse:
        entry = await self.record(request)
        refused = self._refused(request)
        if refused is not None:
            return refused
        failure = self.next_failure()
        if failure is not None:
            limited = failure.status == 429
            body = {
                "err_code": "TOO_MANY_REQUESTS" if limited else "INTERNAL_SERVER_ERROR",
                "err_msg": "Too many requests." if limited else "Internal error.",
                "request_id": str(uuid.uuid4()),
            }
            return failure_response(failure, body)
        text = entry.body.get("text") if isinstance(entry.body, dict) else None
        if not text:
            return _error(400, "Bad Request", "Missing text.")
        encoding = request.query.get("encoding", "linear16")
        rate = int(request.query.get("sample_rate", "24000"))
        if request.query.get("container", "wav") != "none":
            return _error(400, "Bad Request", "This fake serves container=none only.")
        wire, content_type = _ENCODINGS.get(encoding, ("pcm16", "audio/l16"))
        pieces = self.audio_pieces(rate, wire)
        headers = {"dg-request-id": str(uuid.uuid4()), "dg-char-count": str(len(text))}
        return await self.stream_body(request, pieces, content_type, headers=headers)
