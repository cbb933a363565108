"""What the cloud TTS fakes share: an aiohttp server on 127.0.0.1, request log, scripted failures.

Each vendor fake (`tests/fakes/<vendor>_tts.py`) subclasses `FakeTTSServer`, adds its routes and
speaks its vendor's wire format; this module only holds the common machinery: audio to send
(a 440 Hz tone), chunking with a delay between pieces and the time each piece left, failures
queued by tests (`Failure(429)`), cutting the connection after N pieces.
"""

from __future__ import annotations

import asyncio
import math
import struct
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from media.g711 import alaw_encode, ulaw_encode
from tests.fakes.cloud_common import Failure, LocalServer

__all__ = [
    "Failure",
    "FakeTTSServer",
    "RecordedRequest",
    "encode",
    "split",
    "tone_pcm",
    "wav_header",
]


@dataclass
class RecordedRequest:
    """A request as received, with its arrival time (monotonic)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    at: float


def tone_pcm(sample_rate: int, seconds: float, frequency: float = 440.0) -> bytes:
    """A sine tone as PCM16 little-endian (stands in for speech)."""
    count = int(sample_rate * seconds)
    samples = (
        int(8000 * math.sin(2 * math.pi * frequency * n / sample_rate)) for n in range(count)
    )
    return struct.pack(f"<{count}h", *samples)


def encode(pcm: bytes, encoding: str) -> bytes:
    """PCM16 in a vendor encoding: `pcm16`, `ulaw` or `alaw`."""
    if encoding == "ulaw":
        return ulaw_encode(pcm)
    if encoding == "alaw":
        return alaw_encode(pcm)
    return pcm


def split(data: bytes, pieces: int) -> list[bytes]:
    """`data` in `pieces` parts of odd sizes where possible (to split 16-bit samples)."""
    size = max(1, len(data) // pieces)
    if size % 2 == 0:
        size += 1
    return [data[i : i + size] for i in range(0, len(data), size)]


@dataclass
class FakeTTSServer:
    """Common state of a vendor fake. Tests set attributes before a request."""

    api_key: str = "test-key"
    # Seconds of audio per synthesis and how many pieces it is sent in.
    seconds: float = 0.3
    pieces: int = 6
    chunk_delay: float = 0.03
    # Silence between the response headers and the first audio (a slow vendor).
    first_audio_delay: float = 0.0
    failures: list[Failure] = field(default_factory=list)
    # Cut the connection (no clean end) after this many audio pieces.
    disconnect_after: int | None = None
    requests: list[RecordedRequest] = field(default_factory=list)
    # Monotonic time each audio piece of the last synthesis was written.
    sent_at: list[float] = field(default_factory=list)
    # (method, client port) of every request received, including unrouted ones.
    peer_ports: list[tuple[str, int]] = field(default_factory=list)
    base_url: str = ""
    _server: LocalServer | None = None

    def add_routes(self, app: web.Application) -> None:
        """Register the vendor's endpoints (subclasses)."""
        raise NotImplementedError

    async def start(self) -> str:
        """Listen on an ephemeral port; returns `http://127.0.0.1:<port>`."""
        app = web.Application(middlewares=[self._note_peer])
        self.add_routes(app)
        self._server = LocalServer(app)
        port = await self._server.start()
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()

    @web.middleware
    async def _note_peer(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Log the client port of every request, routed or not (to see connection reuse)."""
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.peer_ports.append((request.method, peer[1] if peer else -1))
        return await handler(request)

    async def record(self, request: web.Request) -> RecordedRequest:
        """Log `request` (JSON body decoded when it is JSON) and return the entry."""
        raw = await request.read()
        body: Any = raw
        if request.content_type == "application/json" and raw:
            body = await request.json()
        entry = RecordedRequest(
            request.method,
            request.path,
            dict(request.query),
            dict(request.headers),
            body,
            time.monotonic(),
        )
        self.requests.append(entry)
        return entry

    def next_failure(self) -> Failure | None:
        return self.failures.pop(0) if self.failures else None

    def audio_pieces(self, sample_rate: int, encoding: str) -> list[bytes]:
        """The audio of one synthesis in the wire encoding, split for sending."""
        return split(encode(tone_pcm(sample_rate, self.seconds), encoding), self.pieces)

    async def stream_body(
        self,
        request: web.Request,
        pieces: list[bytes],
        content_type: str,
        *,
        prefix: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> web.StreamResponse:
        """A chunked 200 response sending `prefix` then `pieces` with `chunk_delay` between."""
        response = web.StreamResponse(headers={"Content-Type": content_type, **(headers or {})})
        response.enable_chunked_encoding()
        await response.prepare(request)
        self.sent_at = []
        await asyncio.sleep(self.first_audio_delay)
        if prefix:
            await response.write(prefix)
        for index, piece in enumerate(pieces):
            if self.disconnect_after is not None and index >= self.disconnect_after:
                assert request.transport is not None
                request.transport.abort()
                return response
            await response.write(piece)
            self.sent_at.append(time.monotonic())
            await asyncio.sleep(self.chunk_delay)
        await response.write_eof()
        return response


def wav_header(sample_rate: int, fmt_tag: int, bits: int, extra_chunk: bytes = b"") -> bytes:
    """A streaming WAV header (sizes 0xFFFFFFFF, as vendors send before the length is known)."""
    block = bits // 8
    fmt = struct.pack("<HHIIHH", fmt_tag, 1, sample_rate, sample_rate * block, block, bits)
    header = b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVE"
    header += b"fmt " + struct.pack("<I", len(fmt)) + fmt
    header += extra_chunk
    return header + b"data" + struct.pack("<I", 0xFFFFFFFF)
