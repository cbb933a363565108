"""Asterisk's side of an external-media RTP stream (chan_rtp), at the media level.

Sends RTP from its own UDP socket the way UnicastRTP does (random SSRC and sequence, timestamp
step per 20 ms, marker 0) and records what it receives with arrival times.
"""

from __future__ import annotations

import asyncio
import random
import re
import struct
import time
from typing import cast

from tests.fakes.audiosocket_caller import FIXTURES

_HEADER = struct.Struct("!BBHII")


def rtp_packet(
    pt: int, seq: int, ts: int, ssrc: int, payload: bytes, marker: bool = False
) -> bytes:
    return _HEADER.pack(0x80, pt | (0x80 if marker else 0), seq & 0xFFFF, ts, ssrc) + payload


def captured_packets(name: str) -> list[bytes]:
    """Packets of an `rtp*_first_packets.hex` capture.

    The dump keeps each packet's 12-byte header, its length and the first 16 payload bytes;
    the rest of the payload is filled with the codec's silence (0xFF for PCMU, 0 for L16),
    which is what the capture shows Asterisk sending.
    """
    packets = []
    line_re = re.compile(r"pkt \d+ len=(\d+) hdr=([0-9a-f ]+) payload\[0:16\]=([0-9a-f ]+)")
    for line in (FIXTURES / name).read_text().splitlines():
        m = line_re.match(line)
        if m is None:
            continue
        length = int(m.group(1))
        header = bytes.fromhex(m.group(2))
        head = bytes.fromhex(m.group(3))
        fill = b"\xff" if header[1] & 0x7F in (0, 8) else b"\x00"
        packets.append(header + head + fill * (length - len(header) - len(head)))
    return packets


class RtpCaller(asyncio.DatagramProtocol):
    """A simulated Asterisk RTP endpoint; use `RtpCaller.open`."""

    def __init__(self, keep_payloads: bool) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.keep_payloads = keep_payloads
        self.received: list[tuple[float, bytes]] = []
        self.arrival_times: list[float] = []
        self.ssrc = random.getrandbits(32)
        self.seq = random.getrandbits(16)
        self.ts = 160
        self._arrived = asyncio.Event()

    @classmethod
    async def open(
        cls, remote: tuple[str, int], *, host: str = "127.0.0.1", keep_payloads: bool = True
    ) -> RtpCaller:
        loop = asyncio.get_running_loop()
        _, proto = await loop.create_datagram_endpoint(
            lambda: cls(keep_payloads), local_addr=(host, 0), remote_addr=remote
        )
        return proto

    @property
    def address(self) -> tuple[str, int]:
        assert self.transport is not None
        host, port = self.transport.get_extra_info("sockname")[:2]
        return str(host), int(port)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        now = time.monotonic()
        self.arrival_times.append(now)
        if self.keep_payloads:
            self.received.append((now, data))
        self._arrived.set()

    def send_raw(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.sendto(data)

    def send_audio(self, pt: int, payload: bytes, step: int) -> None:
        """One packet of the caller's own stream (sequence and timestamp advance)."""
        self.send_raw(rtp_packet(pt, self.seq, self.ts, self.ssrc, payload))
        self.seq = (self.seq + 1) & 0xFFFF
        self.ts = (self.ts + step) & 0xFFFFFFFF

    async def wait_packets(self, n: int, within_s: float = 2.0) -> list[bytes]:
        deadline = time.monotonic() + within_s
        while len(self.received) < n:
            self._arrived.clear()
            await asyncio.wait_for(self._arrived.wait(), max(0.0, deadline - time.monotonic()))
        return [data for _, data in self.received[:n]]

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
