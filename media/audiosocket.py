"""AudioSocket transport (PROTOCOLS.md §2): a TCP server Asterisk connects to, one leg per call.

Wire: `kind(1) length(2, big-endian) payload`. Asterisk sends the UUID frame (0x01) first, then
audio, DTMF (0x03) and never a hangup frame (it just closes). The codec comes from the first
audio frame: kind 0x10 with 160 bytes is G.711 (the configured law), 320 bytes slin 8 kHz,
640 bytes slin 16 kHz (older Asterisk sends slin16 under 0x10); kinds 0x11-0x18 are slin at
their own rates. Asterisk reads every 0x10 frame it receives as slin 8 kHz, so a G.711 or
0x10-slin16 leg converts its outbound audio to slin 8 kHz; the 0x11-0x18 kinds go back as
they came.

Every malformed input closes only its own connection, with a log line giving the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import uuid
from collections.abc import Awaitable, Callable
from typing import Final, cast

from media.codec import decode_to_pcm, encode_from_pcm
from media.formats import FRAME_MS, SLIN_8K, AudioFormat, Codec
from media.leg import Dtmf
from media.paced_leg import PacedLeg
from media.pacer import FrameTicker, shared_ticker
from media.resample import StreamResampler

log = logging.getLogger(__name__)

DEFAULT_PORT = 9092
DEFAULT_HEALTH_PORT = 9093

KIND_HANGUP: Final = 0x00
KIND_UUID: Final = 0x01
KIND_DTMF: Final = 0x03
KIND_SLIN: Final = 0x10
KIND_ERROR: Final = 0xFF
SLIN_KIND_RATES: Final = {
    0x10: 8000,
    0x11: 12000,
    0x12: 16000,
    0x13: 24000,
    0x14: 32000,
    0x15: 44100,
    0x16: 48000,
    0x17: 96000,
    0x18: 192000,
}
DTMF_DIGITS: Final = frozenset("0123456789*#ABCD")
HANGUP_FRAME: Final = b"\x00\x00\x00"
_HEADER = 3
# An audio payload longer than this many 20 ms frames of its rate is not something Asterisk
# sends (it writes one frame per message); treat it as a corrupt length.
MAX_AUDIO_FRAMES_PER_MESSAGE = 4
# Asterisk sends the UUID within milliseconds of connecting; a peer that has not after this
# long is not Asterisk.
UUID_TIMEOUT_S = 5.0
# If no audio arrives this long after the UUID (Asterisk sends none until the channel is
# bridged, nor while the far side is silent), the leg starts with the server's default format
# and converts audio that turns up later in another one. Short, because a controller that waits
# for the leg before bridging waits this long; 0 hands the leg over at the UUID.
FORMAT_TIMEOUT_S = 0.3
# Open connections (one per call) beyond which new ones are closed at once, so a flood of
# connections cannot take the descriptors live calls need.
DEFAULT_MAX_CONNECTIONS = 1000
# A quiet call is no dead peer (Asterisk sends nothing while the far end is silent, unless
# `transmit_silence` is on), so there is no read timeout by default. A peer that is gone
# without closing (host down, network cut) is found by TCP keepalive instead: probes after
# this long idle, this far apart, this many unanswered: about 25 s, the old read timeout's
# order. A live peer's kernel answers them whatever its audio.
KEEPALIVE_IDLE_S = 10
KEEPALIVE_INTERVAL_S = 5
KEEPALIVE_PROBES = 3

OnLeg = Callable[[uuid.UUID, "AudioSocketLeg"], Awaitable[None]]


class BadFrame(Exception):
    """The peer sent something that is not valid AudioSocket: the connection is closed."""


def _wire_format(kind: int, length: int, law: Codec) -> AudioFormat:
    """The format a first audio frame of this kind and size implies."""
    rate = SLIN_KIND_RATES[kind]
    if kind == KIND_SLIN:
        if length == 160:
            return AudioFormat(law, 8000)
        if length == 640:
            return AudioFormat(Codec.SLIN, 16000)
    return AudioFormat(Codec.SLIN, rate)


class AudioSocketLeg(PacedLeg):
    """One AudioSocket call: a `MediaLeg` over the TCP connection Asterisk opened."""

    def __init__(
        self,
        transport: asyncio.Transport,
        call_id: uuid.UUID,
        fmt: AudioFormat,
        ticker: FrameTicker,
        *,
        read_timeout_s: float | None,
        high_water_ms: int,
        low_water_ms: int,
    ) -> None:
        super().__init__(
            fmt,
            ticker,
            read_timeout_s=read_timeout_s,
            high_water_ms=high_water_ms,
            low_water_ms=low_water_ms,
        )
        self.uuid = call_id
        self._transport = transport
        self.peer = transport.get_extra_info("peername")
        self._paused = False
        self.frames_dropped = 0
        self._in_kind = KIND_SLIN
        self._wire: AudioFormat | None = None
        self._out_kind = KIND_SLIN
        self._out_header = b""
        self._out_len = 0
        self._out_convert: Callable[[bytes], bytes] | None = None
        self._in_convert: Callable[[bytes], bytes] | None = None

    def __repr__(self) -> str:
        return f"AudioSocketLeg({self.uuid}, peer={self.peer})"

    def _settle(self, fmt: AudioFormat, kind: int, wire: AudioFormat | None) -> None:
        """Fix the leg's format and how audio maps to and from the wire.

        `wire` is what the first inbound audio frame carried (None: none arrived yet).
        """
        self._set_format(fmt)
        self._in_kind = kind
        self._wire = wire
        self._out_kind = kind
        self._out_convert = _outbound_converter(fmt, kind)
        self._out_len = SLIN_8K.frame_bytes if kind == KIND_SLIN else fmt.frame_bytes
        self._out_header = bytes((kind,)) + self._out_len.to_bytes(2, "big")

    def _adopt_wire(self, kind: int, wire: AudioFormat) -> None:
        """Audio arrived after the leg started on the default format: convert it from now on.

        Outbound stays as it started: Asterisk transcodes whatever slin kind it receives.
        """
        self._in_kind = kind
        self._wire = wire
        if wire != self.format:
            log.info("%r: audio arrived as %s, converting to %s", self, wire, self.format)
            self._in_convert = _inbound_converter(wire, self.format)

    def _audio_in(self, payload: bytes) -> None:
        convert = self._in_convert
        if convert is not None:
            payload = convert(payload)
        self._deliver_audio(payload)

    def _transmit(self, frame: bytes) -> None:
        if self._paused:
            self.frames_dropped += 1
            return
        if self._transport.is_closing():
            self._close("connection closed under us", error=True)
            return
        convert = self._out_convert
        if convert is None:
            self._transport.write(self._out_header + frame)
            return
        frame = convert(frame)
        if len(frame) == self._out_len:
            self._transport.write(self._out_header + frame)
        elif frame:  # a resampler's output around its start-up delay
            self._transport.write(bytes((self._out_kind,)) + len(frame).to_bytes(2, "big") + frame)

    def _close_transport(self) -> None:
        self._transport.close()

    async def hangup(self) -> None:
        if self.closed:
            return
        if not self._transport.is_closing():
            self._transport.write(HANGUP_FRAME)
        self._hang_up("hangup sent")


def _outbound_converter(fmt: AudioFormat, wire_kind: int) -> Callable[[bytes], bytes] | None:
    """Asterisk reads 0x10 as slin 8 kHz: G.711 is decoded, slin16 resampled down."""
    if wire_kind != KIND_SLIN or fmt == SLIN_8K:
        return None
    if fmt.codec is not Codec.SLIN:
        return lambda frame: decode_to_pcm(frame, fmt)
    return StreamResampler(fmt.sample_rate, 8000).process


def _inbound_converter(wire: AudioFormat, fmt: AudioFormat) -> Callable[[bytes], bytes]:
    resampler = StreamResampler(wire.sample_rate, fmt.sample_rate)

    def convert(payload: bytes) -> bytes:
        return encode_from_pcm(resampler.process(decode_to_pcm(payload, wire)), fmt)

    return convert


class _Connection(asyncio.Protocol):
    """Parses one AudioSocket connection; owns its leg once the UUID has arrived."""

    def __init__(self, server: AudioSocketServer) -> None:
        self._server = server
        self._buf = bytearray()
        self._transport: asyncio.Transport | None = None
        self._peer: object = None
        self._leg: AudioSocketLeg | None = None
        self._started = False
        self._timer: asyncio.TimerHandle | None = None
        self._done = False
        self.failed = False

    def __repr__(self) -> str:
        return repr(self._leg) if self._leg is not None else f"AudioSocket(peer={self._peer})"

    # -- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, so no isinstance check.
        self._transport = cast(asyncio.Transport, transport)
        self._peer = self._transport.get_extra_info("peername")
        if len(self._server._connections) >= self._server.max_connections:
            self._done = True
            self._server.refused_connections += 1
            log.debug("%r: refused: %d connections open", self, len(self._server._connections))
            self._transport.abort()
            return
        self._server._connections.add(self)
        _keep_alive(self._transport)
        self._timer = asyncio.get_running_loop().call_later(
            self._server.uuid_timeout_s, self._fail, "no UUID frame in time (silent peer)"
        )

    def data_received(self, data: bytes) -> None:
        if self._done or (self._leg is not None and self._leg.closed):
            return
        buf = self._buf
        buf += data
        pos = 0
        try:
            while len(buf) - pos >= _HEADER:
                kind = buf[pos]
                length = (buf[pos + 1] << 8) | buf[pos + 2]
                self._check_header(kind, length)
                end = pos + _HEADER + length
                if end > len(buf):
                    break
                self._handle(kind, bytes(buf[pos + _HEADER : end]))
                pos = end
                if self._done:
                    return
            if self._leg is None and pos == 0 and buf and buf[0] != KIND_UUID:
                raise BadFrame(f"garbage before the UUID frame (first byte 0x{buf[0]:02x})")
        except BadFrame as exc:
            self._fail(str(exc))
            return
        del buf[:pos]

    def pause_writing(self) -> None:
        if self._leg is not None:
            self._leg._paused = True

    def resume_writing(self) -> None:
        if self._leg is not None:
            self._leg._paused = False

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._done:
            if self._buf:
                self._fail(
                    f"truncated frame: closed with {len(self._buf)} bytes of a frame pending"
                )
            elif exc is not None:
                self._fail(f"connection lost: {exc}")
            else:
                self._finish("peer closed the connection")
        self._server._connection_gone(self, self._leg)

    # -- parsing --------------------------------------------------------------------------

    def _check_header(self, kind: int, length: int) -> None:
        if self._leg is None:
            if kind != KIND_UUID:
                raise BadFrame(f"garbage before the UUID frame (kind 0x{kind:02x})")
            if length != 16:
                raise BadFrame(f"UUID frame with length {length}, expected 16")
            return
        if kind in SLIN_KIND_RATES:
            limit = SLIN_KIND_RATES[kind] * FRAME_MS // 1000 * 2 * MAX_AUDIO_FRAMES_PER_MESSAGE
            if length == 0 or length > limit:
                raise BadFrame(f"audio frame kind 0x{kind:02x} with bad length {length}")
        elif kind == KIND_DTMF:
            if length != 1:
                raise BadFrame(f"DTMF frame with length {length}, expected 1")
        elif kind == KIND_HANGUP:
            if length != 0:
                raise BadFrame(f"hangup frame with length {length}, expected 0")
        elif kind == KIND_UUID:
            raise BadFrame("second UUID frame")
        elif kind == KIND_ERROR:
            raise BadFrame(f"error frame from peer (length {length})")
        else:
            raise BadFrame(f"unknown frame kind 0x{kind:02x}")

    def _handle(self, kind: int, payload: bytes) -> None:
        leg = self._leg
        if leg is None:
            self._on_uuid(uuid.UUID(bytes=payload))
            return
        if kind in SLIN_KIND_RATES:
            if not self._started:
                wire = _wire_format(kind, len(payload), self._server.g711_law)
                leg._settle(wire, kind, wire)
                self._start_leg()
            elif leg._wire is None:
                leg._adopt_wire(kind, _wire_format(kind, len(payload), self._server.g711_law))
            elif kind != leg._in_kind:
                raise BadFrame(
                    f"audio kind changed mid-call from 0x{leg._in_kind:02x} to 0x{kind:02x}"
                )
            if len(payload) & 1 and leg._wire is not None and leg._wire.codec is Codec.SLIN:
                raise BadFrame(f"slin audio frame with odd length {len(payload)}")
            leg._audio_in(payload)
        elif kind == KIND_DTMF:
            digit = chr(payload[0])
            if digit not in DTMF_DIGITS:
                raise BadFrame(f"DTMF frame with invalid digit 0x{payload[0]:02x}")
            leg._deliver(Dtmf(digit))
        else:
            self._finish("hangup frame from peer")

    # -- lifecycle ------------------------------------------------------------------------

    def _on_uuid(self, call_id: uuid.UUID) -> None:
        assert self._transport is not None
        server = self._server
        self._leg = AudioSocketLeg(
            self._transport,
            call_id,
            server.default_format,
            server._ticker_for_leg(),
            read_timeout_s=server.read_timeout_s,
            high_water_ms=server.high_water_ms,
            low_water_ms=server.low_water_ms,
        )
        self._cancel_timer()
        self._timer = asyncio.get_running_loop().call_later(
            server.format_timeout_s, self._start_default
        )

    def _start_default(self) -> None:
        leg = self._leg
        if leg is None or self._started or self._done:
            return
        fmt = self._server.default_format
        leg._settle(fmt, _kind_for(fmt), None)
        self._start_leg()

    def _start_leg(self) -> None:
        leg = self._leg
        assert leg is not None
        self._cancel_timer()
        self._started = True
        leg._start()
        self._server._leg_started(leg)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fail(self, reason: str) -> None:
        self._end(reason, error=True)

    def _finish(self, reason: str) -> None:
        self._end(reason, error=False)

    def _end(self, reason: str, *, error: bool) -> None:
        if self._done:
            return
        self._done = True
        self._cancel_timer()
        self._buf.clear()
        if self._leg is not None:
            self._leg._close(reason, error=error)
            return
        self.failed = error
        (log.warning if error else log.info)("%r: closing: %s", self, reason)
        if self._transport is not None:
            self._transport.close()


def _keep_alive(transport: asyncio.Transport) -> None:
    """Turn on TCP keepalive with the intervals above (where the platform has them)."""
    sock = transport.get_extra_info("socket")
    if sock is None:
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE_S),
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL_S),
        ("TCP_KEEPCNT", KEEPALIVE_PROBES),
    ):
        option = getattr(socket, name, None)
        if option is not None:
            sock.setsockopt(socket.IPPROTO_TCP, option, value)


def _kind_for(fmt: AudioFormat) -> int:
    for kind, rate in SLIN_KIND_RATES.items():
        if rate == fmt.sample_rate:
            return kind
    raise ValueError(f"no AudioSocket kind for {fmt}")


class AudioSocketServer:
    """Listens for Asterisk's AudioSocket connections and hands each call's leg to `on_leg`.

    `on_leg(uuid, leg)` is awaited in its own task once the leg's format is known: at the first
    audio frame, or `format_timeout_s` after the UUID with `default_format` (set it to the
    externalMedia `format` you asked for); the leg lives on after it returns. A health listener
    on `health_port` answers every connection with an HTTP 200 and `stats()` as JSON.
    `read_timeout_s` closes a leg whose peer sent nothing that long: None (the default) for
    Asterisk, which is quiet while its caller is (see `KEEPALIVE_IDLE_S`).
    """

    def __init__(
        self,
        host: str,
        port: int,
        on_leg: OnLeg,
        *,
        g711_law: Codec = Codec.ULAW,
        default_format: AudioFormat = SLIN_8K,
        read_timeout_s: float | None = None,
        uuid_timeout_s: float = UUID_TIMEOUT_S,
        format_timeout_s: float = FORMAT_TIMEOUT_S,
        health_port: int | None = DEFAULT_HEALTH_PORT,
        shared_pacing: bool = True,
        high_water_ms: int = 1000,
        low_water_ms: int = 500,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        if g711_law not in (Codec.ULAW, Codec.ALAW):
            raise ValueError(f"g711_law must be ulaw or alaw, got {g711_law}")
        if default_format.codec is not Codec.SLIN or default_format.sample_rate not in set(
            SLIN_KIND_RATES.values()
        ):
            raise ValueError(
                f"default_format must be slin at an AudioSocket rate: {default_format}"
            )
        self.host = host
        self._requested_port = port
        self._requested_health_port = health_port
        self.on_leg = on_leg
        self.g711_law = g711_law
        self.default_format = default_format
        self.read_timeout_s = read_timeout_s
        self.uuid_timeout_s = uuid_timeout_s
        self.format_timeout_s = format_timeout_s
        self.shared_pacing = shared_pacing
        self.high_water_ms = high_water_ms
        self.low_water_ms = low_water_ms
        self.ticker: FrameTicker | None = None
        self._server: asyncio.Server | None = None
        self._health: asyncio.Server | None = None
        self._connections: set[_Connection] = set()
        self._legs: set[AudioSocketLeg] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.max_connections = max_connections
        self.legs_total = 0
        self.legs_failed = 0
        self.refused_connections = 0

    @property
    def port(self) -> int:
        """The bound port (useful when constructed with port 0)."""
        return _bound_port(self._server, self._requested_port)

    @property
    def health_port(self) -> int | None:
        if self._requested_health_port is None:
            return None
        return _bound_port(self._health, self._requested_health_port)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.ticker = shared_ticker()
        self._server = await loop.create_server(
            lambda: _Connection(self), self.host, self._requested_port, reuse_address=True
        )
        if self._requested_health_port is not None:
            self._health = await asyncio.start_server(
                self._serve_health, self.host, self._requested_health_port, reuse_address=True
            )
        log.info(
            "AudioSocket listening on %s:%d (health %s)", self.host, self.port, self.health_port
        )

    async def stop(self) -> None:
        """Stop listening and close every live leg."""
        for srv in (self._server, self._health):
            if srv is not None:
                srv.close()
        for conn in list(self._connections):
            conn._finish("server stopping")
        for srv in (self._server, self._health):
            if srv is not None:
                await srv.wait_closed()
        self._server = self._health = None
        for task in list(self._tasks):
            task.cancel()

    def stats(self) -> dict[str, object]:
        """Listener health for /healthz."""
        return {
            "listening": self._server is not None and self._server.is_serving(),
            "port": self.port if self._server is not None else None,
            "connections": len(self._connections),
            "active_legs": len(self._legs),
            "legs_total": self.legs_total,
            "legs_failed": self.legs_failed,
            "refused_connections": self.refused_connections,
            "pacing": self.ticker.stats() if self.ticker is not None else None,
        }

    def _ticker_for_leg(self) -> FrameTicker:
        if self.shared_pacing and self.ticker is not None:
            return self.ticker
        return FrameTicker()

    def _leg_started(self, leg: AudioSocketLeg) -> None:
        self.legs_total += 1
        self._legs.add(leg)
        task = asyncio.get_running_loop().create_task(self._run_on_leg(leg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_on_leg(self, leg: AudioSocketLeg) -> None:
        try:
            await self.on_leg(leg.uuid, leg)
        except Exception:
            log.exception("%r: on_leg failed; closing the leg", leg)
            leg._close("on_leg failed", error=True)

    def _connection_gone(self, conn: _Connection, leg: AudioSocketLeg | None) -> None:
        self._connections.discard(conn)
        if leg is not None:
            self._legs.discard(leg)
        if (leg is not None and leg.failed) or (leg is None and conn.failed):
            self.legs_failed += 1

    async def _serve_health(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        with contextlib.suppress(asyncio.TimeoutError, ConnectionError):
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 1.0)
        body = json.dumps(self.stats()).encode()
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        with contextlib.suppress(ConnectionError):
            writer.write(head.encode() + body)
            await writer.drain()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def _bound_port(server: asyncio.Server | None, requested: int) -> int:
    if server is None or not server.sockets:
        return requested
    port: int = server.sockets[0].getsockname()[1]
    return port
