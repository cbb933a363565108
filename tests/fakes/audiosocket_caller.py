"""Asterisk's side of one AudioSocket connection, at the media level (PROTOCOLS.md §2).

Like chan_audiosocket it connects, sends the 16-byte UUID frame first, then audio (kind 0x10
or 0x11-0x18, little-endian slin, or G.711 bytes under 0x10 for format=ulaw/alaw) and DTMF
(0x03), and hangs up by closing the socket (Asterisk never sends 0x00). Received frames are
kept with their arrival time so tests and the load bench can check pacing.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from pathlib import Path
from typing import cast

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "asterisk-22.10.1"


def frame(kind: int, payload: bytes = b"") -> bytes:
    """One AudioSocket message."""
    return bytes((kind,)) + len(payload).to_bytes(2, "big") + payload


def uuid_frame(call_id: uuid.UUID) -> bytes:
    return frame(0x01, call_id.bytes)


def read_hex_dump(path: Path) -> bytes:
    """Bytes of a `*_first_frames.hex` capture (offset, then up to 16 hex bytes per line)."""
    out = bytearray()
    for line in path.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        offset, _, rest = line.partition("  ")
        assert int(offset, 16) == len(out), f"gap in {path.name} at {offset}"
        out += bytes.fromhex(rest.strip())
    return bytes(out)


def split_frames(data: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """Complete (kind, payload) messages of `data` and the incomplete tail."""
    frames = []
    pos = 0
    while len(data) - pos >= 3:
        length = int.from_bytes(data[pos + 1 : pos + 3], "big")
        if pos + 3 + length > len(data):
            break
        frames.append((data[pos], data[pos + 3 : pos + 3 + length]))
        pos += 3 + length
    return frames, data[pos:]


class AudioSocketCaller(asyncio.Protocol):
    """A simulated Asterisk AudioSocket client; use `AudioSocketCaller.connect`."""

    def __init__(self, keep_payloads: bool = True) -> None:
        self.transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self.keep_payloads = keep_payloads
        self.received: deque[tuple[float, int, bytes]] = deque()
        self.audio_times: list[float] = []
        self.audio_frames = 0
        self.audio_bytes = 0
        self.closed = asyncio.get_running_loop().create_future()
        self._arrived: asyncio.Event = asyncio.Event()

    @classmethod
    async def connect(
        cls, host: str, port: int, *, keep_payloads: bool = True
    ) -> AudioSocketCaller:
        loop = asyncio.get_running_loop()
        _, proto = await loop.create_connection(lambda: cls(keep_payloads), host, port)
        return proto

    # -- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        buf = self._buf
        buf += data
        pos = 0
        got = False
        # Walk the headers in place: the load bench receives tens of thousands of frames/s.
        while len(buf) - pos >= 3:
            kind = buf[pos]
            end = pos + 3 + ((buf[pos + 1] << 8) | buf[pos + 2])
            if end > len(buf):
                break
            if 0x10 <= kind <= 0x18:
                self.audio_frames += 1
                self.audio_bytes += end - pos - 3
                self.audio_times.append(now)
            if self.keep_payloads:
                self.received.append((now, kind, bytes(buf[pos + 3 : end])))
            pos = end
            got = True
        del buf[:pos]
        if got:
            self._arrived.set()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)
        self._arrived.set()

    # -- driving --------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def send_uuid(self, call_id: uuid.UUID) -> None:
        self.send(uuid_frame(call_id))

    def send_audio(self, payload: bytes, kind: int = 0x10) -> None:
        self.send(frame(kind, payload))

    def send_dtmf(self, digit: str) -> None:
        self.send(frame(0x03, digit.encode()))

    def close(self) -> None:
        """Hang up the way Asterisk does: close the socket, no 0x00 frame."""
        if self.transport is not None:
            self.transport.close()

    async def next_frame(self, within_s: float = 2.0) -> tuple[int, bytes] | None:
        """The next received message (kind, payload), or None once the server closed."""
        deadline = time.monotonic() + within_s
        while not self.received:
            if self.closed.done():
                return None
            self._arrived.clear()
            await asyncio.wait_for(self._arrived.wait(), max(0.0, deadline - time.monotonic()))
        _, kind, payload = self.received.popleft()
        return kind, payload

    async def wait_closed(self, within_s: float = 2.0) -> None:
        await asyncio.wait_for(asyncio.shield(self.closed), within_s)


def capture(name: str) -> bytes:
    """A capture's raw bytes, e.g. `capture("audiosocket_first_frames.hex")`."""
    path = FIXTURES / name
    if not path.exists():
        path = FIXTURES / "more" / name
    return read_hex_dump(path)
