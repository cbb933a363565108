"""A fake Resemble AI streaming synthesis server on 127.0.0.1.

`POST /stream` with `Authorization: Bearer <key>` and `{"voice_uuid", "data", "precision",
"sample_rate", ...}` answers 200 with a WAV stream: RIFF header with unknown sizes
(0xFFFFFFFF), `fmt ` (µ-law tag 7 for MULAW, PCM tag 1 for PCM_16), a `LIST`/`adtl` label chunk
of odd length (padded, as Resemble's timestamp metadata is), then `data` and the samples, all
cut into chunks that split the header and the samples. Errors are `{"success": false,
"message"}` JSON with the real statuses. `GET /api/v2/voices` is the management API's voice
list (credential check).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from aiohttp import web

from tests.fakes.cloud_common import failure_response
from tests.fakes.tts_server import FakeTTSServer, encode, split, tone_pcm, wav_header

_PRECISIONS = {"MULAW": ("ulaw", 7, 8), "PCM_16": ("pcm16", 1, 16)}
_RATES = {8000, 16000, 22050, 32000, 44100, 48000}


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"success": False, "message": message}, status=status)


def _label_chunk() -> bytes:
    text = b"grph hello\x00"  # odd length: the chunk is padded to an even size
    body = b"adtl" + b"ltxt" + struct.pack("<I", len(text)) + text
    padding = b"\x00" if len(body) % 2 else b""
    return b"LIST" + struct.pack("<I", len(body)) + body + padding


@dataclass
class FakeResembleTTS(FakeTTSServer):
    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/stream", self._stream)
        app.router.add_get("/api/v2/voices", self._voices)

    def _refused(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") == f"Bearer {self.api_key}":
            return None
        return _error(401, "Invalid API token")

    async def _voices(self, request: web.Request) -> web.Response:
        await self.record(request)
        refused = self._refused(request)
        if refused is not None:
            return refused
        return web.json_response({"success": True, "page": 1, "items": []})

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        entry = await self.record(request)
        refused = self._refused(request)
        if refused is not None:
            return refused
        failure = self.next_failure()
        if failure is not None:
            return failure_response(failure, {"success": False, "message": "Rate limited"})
        body = entry.body if isinstance(entry.body, dict) else {}
        if not body.get("voice_uuid") or not body.get("data"):
            return _error(400, "voice_uuid and data are required")
        precision = _PRECISIONS.get(str(body.get("precision", "PCM_32")))
        rate = int(body.get("sample_rate") or 48000)
        if precision is None or rate not in _RATES:
            return _error(400, "This fake serves MULAW or PCM_16 at Resemble's rates")
        encoding, tag, bits = precision
        header = wav_header(rate, tag, bits, extra_chunk=_label_chunk())
        audio = encode(tone_pcm(rate, self.seconds), encoding)
        pieces = split(header + audio, self.pieces)
        return await self.stream_body(request, pieces, "audio/wav")
