"""The wire between the serving process and a local-model worker: length-prefixed msgpack.

Each frame is a 4-byte big-endian length and a msgspec msgpack body. The server sends
`Request`s on the worker's stdin; the worker answers each with zero or more `item` replies
and one `done` or `error` reply on its stdout, in order.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any, BinaryIO, Literal

import msgspec

_HEADER = struct.Struct(">I")

# Far above any request (a second of 16 kHz audio is 32 kB, a sentence's speech some 200 kB):
# a larger length means the stream is out of step, not a big message.
MAX_FRAME_BYTES = 16 * 1024 * 1024

# Request id of the worker's ready announcement, sent once its models are loaded.
READY_ID = 0

# The environment variable by which the pool tells its workers the handlers' cache folder.
CACHE_DIR_ENV = "VOCALS_LOCAL_MODELS_CACHE"


class Request(msgspec.Struct, array_like=True, frozen=True):
    """One operation on one session: `open` (args: handler, options), `close`, or a handler op."""

    id: int
    session: int
    op: str
    data: bytes = b""
    args: dict[str, Any] = msgspec.field(default_factory=dict)


class Reply(msgspec.Struct, array_like=True, frozen=True):
    """A result of request `id`: an item of output, or its end (`done`, or `error` with text)."""

    id: int
    kind: Literal["item", "done", "error"]
    data: bytes = b""
    text: str = ""
    # The worker's CPU seconds so far, on `done` and `error`: the pool's statistics.
    cpu: float = 0.0


class FrameError(Exception):
    """The peer sent something that is not a frame of this protocol."""


_encoder = msgspec.msgpack.Encoder()
_request_decoder = msgspec.msgpack.Decoder(Request)
_reply_decoder = msgspec.msgpack.Decoder(Reply)


def encode(message: Request | Reply) -> bytes:
    body = _encoder.encode(message)
    return _HEADER.pack(len(body)) + body


def decode_reply(body: bytes) -> Reply:
    try:
        return _reply_decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise FrameError(f"bad reply frame: {exc}") from exc


def _length(header: bytes) -> int:
    (length,) = _HEADER.unpack(header)
    if length > MAX_FRAME_BYTES:
        raise FrameError(f"frame of {length} bytes")
    return int(length)


async def read_body(reader: asyncio.StreamReader) -> bytes | None:
    """The next frame's body, or None at a clean end of stream."""
    try:
        header = await reader.readexactly(_HEADER.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise FrameError("stream ended inside a frame header") from exc
        return None
    try:
        return await reader.readexactly(_length(header))
    except asyncio.IncompleteReadError as exc:
        raise FrameError("stream ended inside a frame") from exc


def read_request(stream: BinaryIO) -> Request | None:
    """The next request from a blocking stream (the worker's stdin), or None at its end."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    length = _length(header)
    body = stream.read(length)
    if len(body) < length:
        return None
    try:
        return _request_decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise FrameError(f"bad request frame: {exc}") from exc
