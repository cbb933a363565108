"""A fake ElevenLabs TTS server on 127.0.0.1: the HTTP stream and the streaming-input WebSocket.

HTTP: `POST /v1/text-to-speech/{voice_id}/stream?output_format=` with `xi-api-key` and
`{"text", "model_id", ...}` answers 200 with headerless audio (`ulaw_8000`, `alaw_8000`,
`pcm_<rate>`) in chunks; errors are `{"detail": {"status", "message"}}` with the real statuses
(401 invalid_api_key, 429 with `Retry-After`).

WebSocket: `GET /v1/text-to-speech/{voice_id}/stream-input?model_id=&output_format=` with
`xi-api-key`. A refused key is reported in-band, as ElevenLabs does: `{"message", "error":
"invalid_api_key", "code": 1008}` then close 1008. The client opens with `{"text": " "}`, sends
text (`"flush": true` forces generation), ends with `{"text": ""}`; the fake answers `{"audio":
<base64>, "isFinal": null, "normalizedAlignment": {...}}` per piece, then `{"isFinal": true}`
and closes. Scripted failures refuse the upgrade with their HTTP status.

`GET /v1/models` lists models (credential check).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass

from aiohttp import WSMsgType, web

from tests.fakes.cloud_common import Failure, failure_response
from tests.fakes.tts_server import FakeTTSServer

_ENCODINGS = {"ulaw": "ulaw", "alaw": "alaw", "pcm": "pcm16"}


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"detail": {"status": code, "message": message}}, status=status)


def _failure_response(failure: Failure) -> web.Response:
    if failure.status == 429:
        detail = {"status": "too_many_concurrent_requests", "message": "Too many requests."}
    else:
        detail = {"status": "internal_error", "message": "Internal error."}
    return failure_response(failure, {"detail": detail})


def _output(output_format: str) -> tuple[str, int] | None:
    codec, _, rate = output_format.partition("_")
    if codec not in _ENCODINGS or not rate.isdigit():
        return None
    return _ENCODINGS[codec], int(rate)


@dataclass
class FakeElevenLabsTTS(FakeTTSServer):
    # Texts received over WebSocket streams, in order (the opening " " excluded).
    ws_texts: list[str] | None = None

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/text-to-speech/{voice_id}/stream", self._stream)
        app.router.add_get("/v1/text-to-speech/{voice_id}/stream-input", self._stream_input)
        app.router.add_get("/v1/models", self._models)

    def _key_ok(self, request: web.Request) -> bool:
        return request.headers.get("xi-api-key") == self.api_key

    async def _models(self, request: web.Request) -> web.Response:
        await self.record(request)
        if not self._key_ok(request):
            return _error(401, "invalid_api_key", "Invalid API key")
        return web.json_response([{"model_id": "eleven_flash_v2_5"}])

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        entry = await self.record(request)
        if not self._key_ok(request):
            return _error(401, "invalid_api_key", "Invalid API key")
        failure = self.next_failure()
        if failure is not None:
            return _failure_response(failure)
        body = entry.body if isinstance(entry.body, dict) else {}
        output = _output(request.query.get("output_format", "mp3_44100_128"))
        if not body.get("text") or output is None:
            return _error(400, "invalid_request", "text required; this fake serves ulaw/alaw/pcm")
        encoding, rate = output
        return await self.stream_body(request, self.audio_pieces(rate, encoding), "audio/basic")

    async def _stream_input(self, request: web.Request) -> web.StreamResponse:
        await self.record(request)
        failure = self.next_failure()
        if failure is not None:
            return _failure_response(failure)
        output = _output(request.query.get("output_format", "mp3_44100_128"))
        if output is None:
            return _error(400, "invalid_request", "this fake serves ulaw/alaw/pcm")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        if not self._key_ok(request):
            error = {"message": "Invalid API key", "error": "invalid_api_key", "code": 1008}
            await ws.send_str(json.dumps(error))
            await ws.close(code=1008, message=b"Invalid API key")
            return ws
        texts: list[str] = []
        opened = False
        async for message in ws:
            if message.type is not WSMsgType.TEXT:
                break
            data = json.loads(message.data)
            text = data.get("text")
            if not opened:
                if text != " ":
                    error = {"message": "First message must be ' '", "error": "invalid_request"}
                    await ws.send_str(json.dumps(error))
                    await ws.close(code=1008)
                    return ws
                opened = True
                continue
            if text:
                texts.append(text)
            if text == "" or data.get("flush"):
                break
        self.ws_texts = texts
        encoding, rate = output
        await self._send_audio(request, ws, self.audio_pieces(rate, encoding))
        return ws

    async def _send_audio(
        self, request: web.Request, ws: web.WebSocketResponse, pieces: list[bytes]
    ) -> None:
        self.sent_at = []
        for index, piece in enumerate(pieces):
            if self.disconnect_after is not None and index >= self.disconnect_after:
                assert request.transport is not None
                request.transport.abort()
                return
            alignment = {"chars": ["a"], "charStartTimesMs": [0], "charDurationsMs": [50]}
            message = {
                "audio": base64.b64encode(piece).decode(),
                "isFinal": None,
                "normalizedAlignment": alignment,
                "alignment": alignment,
            }
            await ws.send_str(json.dumps(message))
            self.sent_at.append(time.monotonic())
            await asyncio.sleep(self.chunk_delay)
        await ws.send_str(json.dumps({"audio": None, "isFinal": True}))
        await ws.close()
