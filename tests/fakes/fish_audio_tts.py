"""A fake Fish Audio TTS server on 127.0.0.1.

`POST /v1/tts` with `Authorization: Bearer <key>`, a `model` header and a JSON body `{"text",
"reference_id", "format": "pcm", "sample_rate", ...}` answers 200 with raw PCM16 at that rate,
chunked; errors are Fish's `{"message", "status"}` JSON (401 Invalid Token, 429 with
`Retry-After`, 5xx). `GET /model` lists voice models (credential check).
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from tests.fakes.cloud_common import failure_response
from tests.fakes.tts_server import FakeTTSServer

_MODELS = {"s1", "s2-pro", "s2.1-pro", "s2.1-pro-free"}
_RATES = {8000, 16000, 24000, 32000, 44100}


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"message": message, "status": status}, status=status)


@dataclass
class FakeFishAudioTTS(FakeTTSServer):
    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/tts", self._tts)
        app.router.add_get("/model", self._models)

    def _refused(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") == f"Bearer {self.api_key}":
            return None
        return _error(401, "Invalid Token")

    async def _models(self, request: web.Request) -> web.Response:
        await self.record(request)
        refused = self._refused(request)
        if refused is not None:
            return refused
        return web.json_response({"total": 1, "items": [{"_id": "voice-1", "title": "Test"}]})

    async def _tts(self, request: web.Request) -> web.StreamResponse:
        entry = await self.record(request)
        refused = self._refused(request)
        if refused is not None:
            return refused
        failure = self.next_failure()
        if failure is not None:
            error = {"message": "Too Many Requests", "status": failure.status}
            return failure_response(failure, error)
        body = entry.body if isinstance(entry.body, dict) else {}
        if request.headers.get("model") not in _MODELS:
            return _error(400, "Unknown model")
        if not body.get("text") or body.get("format") != "pcm":
            return _error(400, "text is required; this fake serves format=pcm")
        rate = int(body.get("sample_rate") or 44100)
        if rate not in _RATES:
            return _error(400, "Unsupported sample rate")
        return await self.stream_body(request, self.audio_pieces(rate, "pcm16"), "audio/pcm")
