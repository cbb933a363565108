"""A fake Fish Audio ASR API on 127.0.0.1: `POST /v1/asr` and `GET /wallet/self/api-credit`.

The request is multipart (`audio` file, here a WAV checked for mono 16-bit; `language`;
`ignore_timestamps`) with `Authorization: Bearer`; the answer is `{"text", "duration",
"segments": [{"text", "start", "end"}]}`. Errors are JSON `{"status", "message"}`: 401 bad
key, 402 no credit, 429 (with `Retry-After`), 5xx. The "recognized" text is scripted.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass, field

from aiohttp import web

from tests.fakes.cloud_common import Failure, LocalServer, Received, failure_response

FAKE_FISH_KEY = "fish-fake-key"


@dataclass
class FakeFishAudio:
    """Server state: script `texts`, queue `failures`."""

    api_key: str = FAKE_FISH_KEY
    texts: list[str] = field(default_factory=list)
    default_text: str = "Can I move my appointment to Friday?"
    failures: list[Failure] = field(default_factory=list)
    # Drop the connection instead of answering (a network cut mid-request).
    disconnect: bool = False
    requests: list[Received] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    base_url: str = ""
    _server: LocalServer | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v1/asr", self._asr)
        app.router.add_get("/wallet/self/api-credit", self._credit)
        self._server = LocalServer(app)
        self.base_url = f"http://127.0.0.1:{await self._server.start()}"
        return self.base_url

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()

    def _refused(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") == f"Bearer {self.api_key}":
            return None
        return failure_response(Failure(401), {"status": 401, "message": "Invalid token"})

    async def _credit(self, request: web.Request) -> web.Response:
        self.requests.append(Received(request.path, dict(request.headers)))
        refused = self._refused(request)
        if refused is not None:
            return refused
        return web.json_response({"_id": "wallet", "user_id": "fake", "credit": "12.50"})

    async def _asr(self, request: web.Request) -> web.Response:
        form = await request.post()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        self.requests.append(Received(request.path, dict(request.headers), fields))
        refused = self._refused(request)
        if refused is not None:
            return refused
        if self.disconnect:
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)
        if self.failures:
            failure = self.failures.pop(0)
            return failure_response(failure, {"status": failure.status, "message": "scripted"})
        audio = form.get("audio")
        if not isinstance(audio, web.FileField):
            return _unprocessable("audio is required")
        try:
            with wave.open(io.BytesIO(audio.file.read()), "rb") as wav:
                if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
                    return _unprocessable("expected mono 16-bit audio")
                duration = wav.getnframes() / wav.getframerate()
        except (wave.Error, EOFError) as exc:
            return _unprocessable(f"cannot decode audio: {exc}")
        self.seconds.append(duration)
        text = self.texts.pop(0) if self.texts else self.default_text
        segments = [{"text": text, "start": 0.0, "end": duration}]
        return web.json_response({"text": text, "duration": duration, "segments": segments})


def _unprocessable(message: str) -> web.Response:
    detail = [
        {"loc": ["body", "audio"], "type": "value_error", "msg": message, "ctx": {}, "in": "body"}
    ]
    return web.json_response(detail, status=422)
