"""A fake ElevenLabs TTS server on 127.0.0.1: the HTTP stream and the streaming-input WebSocket.

HTTP: `POST /v1/text-to-speech/{voice_id}/stream?output_format=` with `xi-api-key` and
`{"text", "model_id", ...}` answers 200 with headerless audio (`ulaw_8000`, `alaw_8000`,
`pcm_<rate>`) in chunks; errors are `{"detail": {"status", "message"}}` with the real statuses
(401 invalid_api_key, 429 with `Retry-After`).

WebSocket: `GET /v1/text-to-speech/{voice_id}/multi-stream-input?model_id=&output_format=`
with `xi-api-key`, the multi-context API. A refused key is reported in-band, as ElevenLabs
does: `{"message", "error": "invalid_api_key", "code": 1008}` then close 1008. A context opens
with `{"text": " ", "context_id"}` (text to a context never opened is an error), takes text
(`"flush": true` generates what it holds), and `{"context_id", "close_context": true}` ends
it with `{"isFinal": true, "contextId"}`; audio comes as `{"audio": <base64>, "contextId",
"normalizedAlignment": {...}}`. `{"close_socket": true}` closes the socket. Contexts are
served in order, one after another. Scripted failures refuse the upgrade with their status.

`GET /v1/models` lists models (credential check).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass, field

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
    # Texts flushed over WebSocket contexts, in order, over all sockets.
    ws_texts: list[str] = field(default_factory=list)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/text-to-speech/{voice_id}/stream", self._stream)
        app.router.add_get(
            "/v1/text-to-speech/{voice_id}/multi-stream-input", self._multi_stream_input
        )
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

    async def _multi_stream_input(self, request: web.Request) -> web.StreamResponse:
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
        encoding, rate = output
        contexts: dict[str, list[str]] = {}
        async for message in ws:
            if message.type is not WSMsgType.TEXT:
                break
            data = json.loads(message.data)
            if data.get("close_socket"):
                await ws.close()
                break
            context = str(data.get("context_id", "default"))
            if context not in contexts:
                if data.get("text") != " ":
                    error = {"message": f"unknown context {context}", "error": "invalid_request"}
                    await ws.send_str(json.dumps(error))
                    continue
                contexts[context] = []
                continue
            if data.get("text"):
                contexts[context].append(data["text"])
            if data.get("flush") and contexts[context]:
                self.ws_texts.append("".join(contexts[context]))
                contexts[context] = []
                pieces = self.audio_pieces(rate, encoding)
                if not await self._send_audio(request, ws, pieces, context):
                    return ws
            if data.get("close_context"):
                del contexts[context]
                await ws.send_str(json.dumps({"isFinal": True, "contextId": context}))
        return ws

    async def _send_audio(
        self, request: web.Request, ws: web.WebSocketResponse, pieces: list[bytes], context: str
    ) -> bool:
        """Stream one context's audio; False when the scripted disconnect cut the socket."""
        self.sent_at = []
        for index, piece in enumerate(pieces):
            if self.disconnect_after is not None and index >= self.disconnect_after:
                assert request.transport is not None
                request.transport.abort()
                return False
            alignment = {"chars": ["a"], "charStartTimesMs": [0], "charDurationsMs": [50]}
            message = {
                "audio": base64.b64encode(piece).decode(),
                "contextId": context,
                "normalizedAlignment": alignment,
                "alignment": alignment,
            }
            if ws.closed:
                return False
            await ws.send_str(json.dumps(message))
            self.sent_at.append(time.monotonic())
            await asyncio.sleep(self.chunk_delay)
        return True
