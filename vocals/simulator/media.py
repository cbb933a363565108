"""Asterisk's end of external media, as the simulator plays it (PROTOCOLS.md §2 and §4).

AudioSocket: Asterisk is the TCP client. It connects while the externalMedia request is being
handled, sends the 16-byte UUID frame (0x01) when the channel is called, then audio frames
(0x10 slin 8 kHz, 320 B; 0x12 slin16, 640 B); it hangs up by closing the socket, never with
0x00. A peer's 0x00 or close ends the channel; any kind other than audio or 0x00 is an error
that ends it too.
RTP: chan_rtp's UnicastRTP socket sends PT 0 (µ-law, 160 B, timestamp step 160) or PT 118
(slin16 big-endian, 640 B, step 320) from its own port to external_host, random sequence and
SSRC, and accepts packets back.

Every link hands received audio on as slin 8 kHz little-endian with its arrival time, so a
caller sees what reaches the phone whichever transport the server chose.
"""

from __future__ import annotations

import asyncio
import random
import struct
import time
import uuid
from collections.abc import Callable
from typing import Final, Protocol

import numpy as np

from media.g711 import ulaw_decode, ulaw_encode

# (slin 8 kHz PCM, time.monotonic() of arrival)
OnAudio = Callable[[bytes, float], None]
OnClose = Callable[[str], None]

KIND_HANGUP: Final = 0x00
KIND_UUID: Final = 0x01
KIND_DTMF: Final = 0x03
KIND_SLIN8: Final = 0x10
KIND_SLIN16: Final = 0x12
_HEADER: Final = 3
RTP_PT_ULAW: Final = 0
RTP_PT_SLIN16: Final = 118
_RTP_HEADER: Final = struct.Struct("!BBHII")


def _up16(pcm8: bytes) -> bytes:
    return np.repeat(np.frombuffer(pcm8, "<i2"), 2).astype("<i2").tobytes()


def _down8(pcm16: bytes) -> bytes:
    return np.frombuffer(pcm16, "<i2")[::2].astype("<i2").tobytes()


class MediaLink(Protocol):
    """One external media channel's socket on the Asterisk side."""

    encapsulation: str  # audiosocket | rtp

    def send_audio(self, pcm8: bytes) -> None:
        """Send 20 ms of slin 8 kHz toward the server, in the channel's wire format."""

    def close(self) -> None:
        """Asterisk ends the channel: close the socket (idempotent)."""


class AudioSocketLink(asyncio.Protocol):
    """chan_audiosocket's connection to the server's AudioSocket listener."""

    encapsulation = "audiosocket"

    def __init__(
        self, call_uuid: uuid.UUID, fmt: str, on_audio: OnAudio, on_close: OnClose
    ) -> None:
        self.call_uuid = call_uuid
        self.kind = KIND_SLIN16 if fmt == "slin16" else KIND_SLIN8
        self._on_audio = on_audio
        self._on_close = on_close
        self._tcp: asyncio.Transport | None = None
        self._buf = bytearray()
        self._closed = False
        self._close_reason = "server closed the connection"
        self.frames_in = 0

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        timeout_s: float,
        call_uuid: uuid.UUID,
        fmt: str,
        on_audio: OnAudio,
        on_close: OnClose,
    ) -> AudioSocketLink:
        loop = asyncio.get_running_loop()
        link = cls(call_uuid, fmt, on_audio, on_close)
        async with asyncio.timeout(timeout_s):
            await loop.create_connection(lambda: link, host, port)
        return link

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._tcp = transport  # type: ignore[assignment]  # uvloop's TCPTransport

    def send_uuid(self) -> None:
        self._write(KIND_UUID, self.call_uuid.bytes)

    def send_audio(self, pcm8: bytes) -> None:
        self._write(self.kind, _up16(pcm8) if self.kind == KIND_SLIN16 else pcm8)

    def send_dtmf(self, digit: str) -> None:
        self._write(KIND_DTMF, digit.encode())

    def _write(self, kind: int, payload: bytes) -> None:
        if self._tcp is not None and not self._closed:
            self._tcp.write(bytes((kind,)) + len(payload).to_bytes(2, "big") + payload)

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        now = time.monotonic()
        pos = 0
        while len(buf) - pos >= _HEADER:
            kind = buf[pos]
            length = (buf[pos + 1] << 8) | buf[pos + 2]
            end = pos + _HEADER + length
            if end > len(buf):
                break
            if kind == KIND_HANGUP:
                self._end("server sent hangup")
                return
            if kind not in (KIND_SLIN8, KIND_SLIN16) or not length:
                self._end(f"server sent kind 0x{kind:02x} (length {length})")
                return
            payload = bytes(buf[pos + _HEADER : end])
            self.frames_in += 1
            self._on_audio(payload if kind == KIND_SLIN8 else _down8(payload), now)
            pos = end
        del buf[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._closed:
            self._closed = True
            self._on_close(self._close_reason)

    def _end(self, reason: str) -> None:
        self._close_reason = reason
        if self._tcp is not None:
            self._tcp.close()

    def close(self) -> None:
        """Asterisk side hangs up: close the socket, no 0x00 frame."""
        if not self._closed:
            self._closed = True
            if self._tcp is not None:
                self._tcp.close()


class RtpLink(asyncio.DatagramProtocol):
    """chan_rtp's UnicastRTP socket: sends to external_host, accepts packets back."""

    encapsulation = "rtp"

    def __init__(self, fmt: str, on_audio: OnAudio) -> None:
        self.pt = RTP_PT_SLIN16 if fmt == "slin16" else RTP_PT_ULAW
        self._on_audio = on_audio
        self._seq = random.randrange(65536)
        self._ssrc = random.getrandbits(32)
        self._step = 320 if self.pt == RTP_PT_SLIN16 else 160
        self._timestamp = self._step
        self._udp: asyncio.DatagramTransport | None = None
        self._remote: tuple[str, int] | None = None
        self.packets_in = 0

    async def open(self, remote: tuple[str, int]) -> int:
        """Bind a local port on loopback; returns it (UNICASTRTP_LOCAL_PORT)."""
        loop = asyncio.get_running_loop()
        self._remote = remote
        udp, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=("127.0.0.1", 0))
        self._udp = udp
        port: int = udp.get_extra_info("sockname")[1]
        return port

    def send_audio(self, pcm8: bytes) -> None:
        if self._udp is None or self._remote is None:
            return
        if self.pt == RTP_PT_ULAW:
            payload = ulaw_encode(pcm8)
        else:
            payload = np.frombuffer(_up16(pcm8), "<i2").astype(">i2").tobytes()
        header = _RTP_HEADER.pack(0x80, self.pt, self._seq, self._timestamp, self._ssrc)
        self._udp.sendto(header + payload, self._remote)
        self._seq = (self._seq + 1) & 0xFFFF
        self._timestamp = (self._timestamp + self._step) & 0xFFFFFFFF

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) < 12 or data[0] >> 6 != 2:
            return
        now = time.monotonic()
        pt = data[1] & 0x7F
        payload = data[12 + 4 * (data[0] & 0x0F) :]
        self.packets_in += 1
        if pt == RTP_PT_ULAW:
            self._on_audio(ulaw_decode(payload), now)
        elif pt == RTP_PT_SLIN16:
            self._on_audio(_down8(np.frombuffer(payload, ">i2").astype("<i2").tobytes()), now)

    def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
