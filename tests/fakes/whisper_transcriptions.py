"""A fake OpenAI-style transcription server on 127.0.0.1 (`POST /v1/audio/transcriptions`,
`GET /v1/models`), as OpenAI and self-hosted Whisper servers speak it.

The request is multipart: `file` (here a WAV, parsed and checked: mono, 16-bit), `model`,
`language`, `response_format`, `temperature`, optional `prompt`; the answer for
`response_format=json` is `{"text": ...}`. Errors are `{"error": {"message", "type", "code"}}`
with 401 for a bad key, 429 (with `Retry-After`) and 5xx. The "recognized" text is scripted.

With `whisper_cpp=True` it is whisper.cpp's `whisper-server` instead: one `POST /inference`
at the root (the same multipart fields but no `model`), no `/v1` and no `/models`.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass, field

from aiohttp import web

from tests.fakes.cloud_common import Failure, LocalServer, Received, failure_response

FAKE_WHISPER_KEY = "sk-whisper-fake"


@dataclass
class WavUpload:
    """What one upload contained."""

    sample_rate: int
    seconds: float
    pcm: bytes
    fields: dict[str, str]


@dataclass
class FakeTranscriptionServer:
    """Server state. `api_key=None` accepts any (or no) key, as local servers do."""

    api_key: str | None = FAKE_WHISPER_KEY
    whisper_cpp: bool = False
    # Texts answered in order; when exhausted, `default_text`.
    texts: list[str] = field(default_factory=list)
    default_text: str = "I would like to book a table for two."
    failures: list[Failure] = field(default_factory=list)
    # Drop the connection instead of answering (a network cut mid-request).
    disconnect: bool = False
    requests: list[Received] = field(default_factory=list)
    uploads: list[WavUpload] = field(default_factory=list)
    base_url: str = ""
    _server: LocalServer | None = None

    async def start(self) -> str:
        app = web.Application()
        if self.whisper_cpp:
            app.router.add_post("/inference", self._transcribe)
        else:
            app.router.add_post("/v1/audio/transcriptions", self._transcribe)
            app.router.add_get("/v1/models", self._models)
        self.add_routes(app)
        self._server = LocalServer(app)
        root = f"http://127.0.0.1:{await self._server.start()}"
        self.base_url = root if self.whisper_cpp else f"{root}/v1"
        return self.base_url

    def add_routes(self, app: web.Application) -> None:
        """More endpoints on the same server (subclasses: OpenAI's realtime socket)."""

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()

    def _refused(self, request: web.Request) -> web.Response | None:
        if self.api_key is None or request.headers.get("Authorization") == f"Bearer {self.api_key}":
            return None
        body = {
            "error": {
                "message": "Incorrect API key provided.",
                "type": "invalid_request_error",
                "code": "invalid_api_key",
            }
        }
        return failure_response(Failure(401), body)

    async def _models(self, request: web.Request) -> web.Response:
        self.requests.append(Received(request.path, dict(request.headers)))
        refused = self._refused(request)
        if refused is not None:
            return refused
        return web.json_response(
            {"object": "list", "data": [{"id": "whisper-1", "object": "model"}]}
        )

    async def _transcribe(self, request: web.Request) -> web.Response:
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
            kind = "rate_limit_exceeded" if failure.status == 429 else "server_error"
            return failure_response(failure, {"error": {"message": "scripted", "type": kind}})
        upload = form.get("file")
        if not isinstance(upload, web.FileField):
            return _bad_request("file is required")
        if not self.whisper_cpp and not fields.get("model"):
            return _bad_request("model is required")
        try:
            with wave.open(io.BytesIO(upload.file.read()), "rb") as wav:
                if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
                    return _bad_request("expected mono 16-bit audio")
                rate = wav.getframerate()
                pcm = wav.readframes(wav.getnframes())
        except (wave.Error, EOFError) as exc:
            return _bad_request(f"Invalid file format: {exc}")
        self.uploads.append(WavUpload(rate, len(pcm) / 2 / rate, pcm, fields))
        text = self.texts.pop(0) if self.texts else self.default_text
        if fields.get("response_format", "json") != "json":
            return _bad_request("this fake answers response_format=json only")
        return web.json_response({"text": text})


def _bad_request(message: str) -> web.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "code": None}}
    return web.json_response(body, status=400)
