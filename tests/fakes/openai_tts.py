"""A fake OpenAI speech server on 127.0.0.1.

`POST /v1/audio/speech` with `Authorization: Bearer <key>` and `{"model", "input", "voice",
"response_format": "pcm", ...}` answers 200 with raw 24 kHz PCM16 sent in chunks (odd-sized,
as network reads are); errors are OpenAI's `{"error": {"message", "type", "code"}}` with the
real statuses (401 invalid_api_key, 429 rate_limit_exceeded with `Retry-After`).
`GET /v1/models` lists models (credential check). tts-1 and tts-1-hd refuse the voices only
gpt-4o-mini-tts speaks (marin, cedar, ballad, verse) with a 400.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from tests.fakes.cloud_common import failure_response
from tests.fakes.tts_server import FakeTTSServer

_FORMATS = {"pcm": "audio/pcm"}
# Voices only gpt-4o-mini-tts speaks; tts-1 and tts-1-hd refuse them.
_GPT_ONLY_VOICES = {"marin", "cedar", "ballad", "verse"}


def _error(status: int, message: str, kind: str, code: str | None) -> web.Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return web.json_response(body, status=status)


@dataclass
class FakeOpenAITTS(FakeTTSServer):
    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/audio/speech", self._speech)
        app.router.add_get("/v1/models", self._models)

    def _refused(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") == f"Bearer {self.api_key}":
            return None
        return _error(
            401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
        )

    async def _models(self, request: web.Request) -> web.Response:
        await self.record(request)
        refused = self._refused(request)
        if refused is not None:
            return refused
        return web.json_response({"object": "list", "data": [{"id": "gpt-4o-mini-tts"}]})

    async def _speech(self, request: web.Request) -> web.StreamResponse:
        entry = await self.record(request)
        refused = self._refused(request)
        if refused is not None:
            return refused
        failure = self.next_failure()
        if failure is not None:
            limited = failure.status == 429
            error = {
                "message": "Rate limit reached for requests" if limited else "Server error",
                "type": "requests" if limited else "server_error",
                "param": None,
                "code": "rate_limit_exceeded" if limited else None,
            }
            return failure_response(failure, {"error": error})
        body = entry.body if isinstance(entry.body, dict) else {}
        if not body.get("input") or not body.get("voice") or not body.get("model"):
            return _error(400, "input, voice and model are required", "invalid_request_error", None)
        if str(body["model"]).startswith("tts-1") and body["voice"] in _GPT_ONLY_VOICES:
            message = f"Voice {body['voice']} is not supported for model {body['model']}."
            return _error(400, message, "invalid_request_error", "unsupported_value")
        if body.get("response_format") not in _FORMATS:
            return _error(400, "This fake serves pcm only", "invalid_request_error", None)
        pieces = self.audio_pieces(24000, "pcm16")
        return await self.stream_body(request, pieces, _FORMATS["pcm"])
