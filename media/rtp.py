"""RTP transport for Asterisk external media (chan_rtp "UnicastRTP", PROTOCOLS.md §4).

One UDP socket per leg, bound to a port from an `RtpPortPool`. Payload types: 0 (PCMU), 8
(PCMA) and 118 (slin16, big-endian samples on the wire). Asterisk sends to the host:port we
gave it as `external_host`, from `UNICASTRTP_LOCAL_ADDRESS:UNICASTRTP_LOCAL_PORT` (the
captures show the same port both ways); we send back there from the same socket.

Anyone who can reach the port can send datagrams to it, so a leg listens only to the address
Asterisk announced. Where that is not known (not announced yet, or the unspecified address of
an Asterisk bound to all interfaces) the leg latches onto the first source that sends
`LATCH_PACKETS` well-formed packets in a row with one SSRC, holding them until then. Datagrams
from any other source are counted (`foreign_packets`, and the pool's total) and dropped. A
reorder buffer of at most 60 ms puts packets back in sequence.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import struct
from dataclasses import dataclass
from typing import Final

import numpy as np

from media.formats import ALAW_8K, SLIN_16K, ULAW_8K, AudioFormat
from media.leg import Dtmf
from media.paced_leg import PacedLeg
from media.pacer import FrameTicker, shared_ticker

log = logging.getLogger(__name__)

RTP_VERSION: Final = 2
PT_PCMU: Final = 0
PT_PCMA: Final = 8
PT_CN: Final = 13  # comfort noise: legal RTP, carries no audio for us
PT_SLIN16: Final = 118  # Asterisk's fixed mapping for slin16
PAYLOAD_TYPES: Final[dict[int, AudioFormat]] = {
    PT_PCMU: ULAW_8K,
    PT_PCMA: ALAW_8K,
    PT_SLIN16: SLIN_16K,
}
_FORMAT_PT: Final = {fmt: pt for pt, fmt in PAYLOAD_TYPES.items()}
_HEADER = struct.Struct("!BBHII")
# Packets held while waiting for a missing one: 3 x 20 ms, the most delay we accept.
REORDER_DEPTH = 3
# A sequence jump this large is a new stream (e.g. a re-INVITE upstream), not loss.
_RESYNC_GAP = 100
# Packets in a row from one source and SSRC before an unannounced source is believed: 60 ms,
# which a stray or forged datagram does not produce by chance; they are delivered once latched.
LATCH_PACKETS = 3


class RtpError(ValueError):
    """A datagram that is not RTP we can accept."""


@dataclass(frozen=True, slots=True)
class RtpPacket:
    payload_type: int
    marker: bool
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes


def parse_rtp(data: bytes) -> RtpPacket:
    """Parse an RTP packet (RFC 3550), skipping CSRCs, a header extension and padding."""
    if len(data) < _HEADER.size:
        raise RtpError(f"packet of {len(data)} bytes is shorter than an RTP header")
    b0, b1, seq, ts, ssrc = _HEADER.unpack_from(data)
    if b0 >> 6 != RTP_VERSION:
        raise RtpError(f"RTP version {b0 >> 6}, expected 2")
    start = _HEADER.size + 4 * (b0 & 0x0F)
    end = len(data)
    if b0 & 0x10:
        if end < start + 4:
            raise RtpError("header extension runs past the packet")
        start += 4 + 4 * int.from_bytes(data[start + 2 : start + 4], "big")
    if start > end:
        raise RtpError("CSRC list or header extension runs past the packet")
    if b0 & 0x20:
        pad = data[-1]
        if pad == 0 or pad > end - start:
            raise RtpError(f"bad padding count {pad}")
        end -= pad
    return RtpPacket(b1 & 0x7F, bool(b1 & 0x80), seq, ts, ssrc, data[start:end])


def build_rtp(pt: int, marker: bool, seq: int, ts: int, ssrc: int, payload: bytes) -> bytes:
    """One RTP packet with a plain 12-byte header."""
    return _HEADER.pack(0x80, pt | (0x80 if marker else 0), seq, ts, ssrc) + payload


class ReorderBuffer:
    """Releases payloads in sequence order, waiting at most `depth` packets for a gap."""

    __slots__ = ("_depth", "_expected", "_held", "duplicates", "late", "lost")

    def __init__(self, depth: int = REORDER_DEPTH) -> None:
        self._depth = depth
        self._expected: int | None = None
        self._held: dict[int, bytes] = {}
        self.lost = 0
        self.late = 0
        self.duplicates = 0

    def push(self, seq: int, payload: bytes) -> list[bytes]:
        """Add one packet; return the payloads now ready, in order."""
        expected = self._expected
        held = self._held
        if expected is None or (seq == expected and not held):
            self._expected = (seq + 1) & 0xFFFF
            return [payload]
        ahead = (seq - expected) & 0xFFFF
        if ahead >= 0x8000:
            self.late += 1
            return []
        if ahead >= _RESYNC_GAP:
            out = [held[s] for s in _in_order(held, expected)]
            held.clear()
            self._expected = (seq + 1) & 0xFFFF
            out.append(payload)
            return out
        if seq in held:
            self.duplicates += 1
            return []
        held[seq] = payload
        out = []
        while True:
            while expected in held:
                out.append(held.pop(expected))
                expected = (expected + 1) & 0xFFFF
            if len(held) < self._depth:
                break
            nearest = _in_order(held, expected)[0]
            self.lost += (nearest - expected) & 0xFFFF
            expected = nearest
        self._expected = expected
        return out

    def reset(self) -> None:
        self._expected = None
        self._held.clear()


def _in_order(held: dict[int, bytes], expected: int) -> list[int]:
    """Held sequence numbers sorted by distance after `expected` (mod 2**16)."""
    return sorted(held, key=lambda s: (s - expected) & 0xFFFF)


class RtpPortPool:
    """Even UDP ports in [start, end) handed out to legs (odd ones are RTCP's by convention)."""

    def __init__(self, start: int, end: int) -> None:
        if not 0 < start < end <= 65536:
            raise ValueError(f"bad RTP port range {start}-{end}")
        first = start + (start & 1)
        self._free = list(range(first, end, 2))
        random.shuffle(self._free)
        self.size = len(self._free)
        self._used: set[int] = set()
        # Datagrams its legs dropped for coming from somewhere other than their Asterisk.
        self.foreign_packets = 0

    @property
    def in_use(self) -> int:
        return len(self._used)

    def stats(self) -> dict[str, int]:
        """Port usage, for /healthz."""
        return {
            "ports": self.size,
            "in_use": len(self._used),
            "foreign_packets": self.foreign_packets,
        }

    def acquire(self) -> int:
        if not self._free:
            raise RuntimeError("RTP port range exhausted")
        port = self._free.pop()
        self._used.add(port)
        return port

    def release(self, port: int) -> None:
        if port in self._used:
            self._used.remove(port)
            self._free.insert(0, port)


class _RtpProtocol(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.leg: RtpLeg | None = None

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        leg = self.leg
        if leg is not None:
            leg._on_datagram(data, addr)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable while Asterisk's side is not up yet: not fatal for RTP.
        if self.leg is not None:
            self.leg.send_errors += 1

    def connection_lost(self, exc: Exception | None) -> None:
        leg = self.leg
        if leg is not None:
            leg._socket_closed(exc)


class RtpLeg(PacedLeg):
    """One external-media call over RTP; create it with `await RtpLeg.open(...)`."""

    def __init__(
        self,
        transport: asyncio.DatagramTransport,
        pool: RtpPortPool,
        port: int,
        fmt: AudioFormat,
        ticker: FrameTicker,
        *,
        remote: tuple[str, int] | None,
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
        self._transport = transport
        self._pool: RtpPortPool | None = pool
        self._counts = pool
        self.local_port = port
        self.remote: tuple[str, int] | None = None
        self._candidate: tuple[str, int] | None = None
        self._held: list[RtpPacket] = []
        self._pt = _FORMAT_PT[fmt]
        self._swap = fmt == SLIN_16K
        self._ssrc = random.getrandbits(32)
        self._seq = random.getrandbits(16)
        self._ts = random.getrandbits(32)
        self._step = fmt.samples_per_frame
        self._talking = False
        self._in_ssrc: int | None = None
        self.reorder = ReorderBuffer()
        self.foreign_packets = 0
        self.send_errors = 0
        self.frames_unsent = 0  # outbound frames due before any remote address was known
        if remote is not None:
            self.set_remote(*remote)

    def signalled_dtmf(self, digit: str) -> None:
        """A digit the call's signalling reported: Asterisk's external-media RTP carries no
        DTMF, so it reaches this leg's events this way."""
        if not self.closed:
            self._deliver(Dtmf(digit))

    @classmethod
    async def open(
        cls,
        pool: RtpPortPool,
        fmt: AudioFormat,
        *,
        host: str = "127.0.0.1",
        remote: tuple[str, int] | None = None,
        ticker: FrameTicker | None = None,
        read_timeout_s: float | None = 30.0,
        high_water_ms: int = 1000,
        low_water_ms: int = 500,
    ) -> RtpLeg:
        """Bind a port from `pool` and start pacing. `remote` may come later (`set_remote`).

        Legs share the event loop's `shared_ticker()` unless given their own.
        """
        if fmt not in _FORMAT_PT:
            raise ValueError(f"RTP leg supports {list(_FORMAT_PT)}, not {fmt}")
        loop = asyncio.get_running_loop()
        for _ in range(min(pool.size, 64)):
            port = pool.acquire()
            try:
                transport, proto = await loop.create_datagram_endpoint(
                    _RtpProtocol, local_addr=(host, port)
                )
            except OSError:
                pool.release(port)  # taken by another process: try the next one
                continue
            leg = cls(
                transport,
                pool,
                port,
                fmt,
                ticker if ticker is not None else shared_ticker(),
                remote=remote,
                read_timeout_s=read_timeout_s,
                high_water_ms=high_water_ms,
                low_water_ms=low_water_ms,
            )
            proto.leg = leg
            leg._start()
            return leg
        raise OSError("no free UDP port in the RTP range")

    def __repr__(self) -> str:
        return f"RtpLeg(port={self.local_port}, remote={self.remote})"

    def set_remote(self, host: str, port: int) -> None:
        """Asterisk's UNICASTRTP_LOCAL_ADDRESS / UNICASTRTP_LOCAL_PORT: the only source listened
        to and where audio goes. An unspecified address (0.0.0.0, ::) leaves the source to be
        learned."""
        try:
            unspecified = ipaddress.ip_address(host).is_unspecified
        except ValueError:
            unspecified = False
        if unspecified:
            return
        self.remote = (host, port)
        self._candidate = None
        self._held.clear()

    # -- inbound --------------------------------------------------------------------------

    def _on_datagram(self, data: bytes, addr: tuple[str | object, int]) -> None:
        if self.closed:
            return
        source = (str(addr[0]), int(addr[1]))
        # The remote is set once Asterisk announced it or its source was learned.
        known = self.remote is not None
        if known and source != self.remote:
            self._foreign()
            return
        try:
            packet = parse_rtp(data)
        except RtpError as exc:
            if known:
                self._close(f"bad RTP packet: {exc}", error=True)
            else:
                self._foreign()
            return
        if not known:
            self._learn(source, packet)
            return
        self._on_packet(packet)

    def _foreign(self, packets: int = 1) -> None:
        self.foreign_packets += packets
        self._counts.foreign_packets += packets

    def _learn(self, source: tuple[str, int], packet: RtpPacket) -> None:
        """Hold packets of an unannounced source until `LATCH_PACKETS` in a row agree."""
        if packet.payload_type not in (self._pt, PT_CN):
            self._foreign()
            return
        held = self._held
        if source != self._candidate or (held and packet.ssrc != held[0].ssrc):
            self._foreign(len(held))
            held.clear()
            self._candidate = source
        held.append(packet)
        if len(held) < LATCH_PACKETS:
            return
        log.info("%r: media source learned: %s:%d", self, *source)
        self.remote = source
        self._candidate = None
        ready = list(held)
        held.clear()
        for each in ready:
            if self.closed:
                return
            self._on_packet(each)

    def _on_packet(self, packet: RtpPacket) -> None:
        pt = packet.payload_type
        if pt != self._pt:
            if pt == PT_CN:
                self._touch()
                return
            self._close(f"unexpected RTP payload type {pt} (expected {self._pt})", error=True)
            return
        payload = packet.payload
        if self._swap:
            if len(payload) & 1:
                self._close(f"L16 payload with odd length {len(payload)}", error=True)
                return
            payload = np.frombuffer(payload, ">i2").astype("<i2").tobytes()
        if packet.ssrc != self._in_ssrc:
            self._in_ssrc = packet.ssrc
            self.reorder.reset()
        for ready in self.reorder.push(packet.sequence, payload):
            self._deliver_audio(ready)

    # -- outbound -------------------------------------------------------------------------

    def _transmit(self, frame: bytes) -> None:
        remote = self.remote
        seq = self._seq
        ts = self._ts
        self._seq = (seq + 1) & 0xFFFF
        self._ts = (ts + self._step) & 0xFFFFFFFF
        if remote is None:
            self.frames_unsent += 1
            return
        if self._swap:
            frame = np.frombuffer(frame, "<i2").astype(">i2").tobytes()
        marker = not self._talking
        self._talking = True
        self._transport.sendto(build_rtp(self._pt, marker, seq, ts, self._ssrc, frame), remote)

    def _idle_tick(self) -> None:
        # The RTP clock keeps running through silence; the next packet starts a talkspurt.
        self._ts = (self._ts + self._step) & 0xFFFFFFFF
        self._talking = False

    def _close_transport(self) -> None:
        self._transport.close()
        self._release_port()

    def _socket_closed(self, exc: Exception | None) -> None:
        self._release_port()
        if not self.closed:
            self._close(f"socket closed: {exc}", error=exc is not None)

    def _release_port(self) -> None:
        if self._pool is not None:
            self._pool.release(self.local_port)
            self._pool = None

    async def hangup(self) -> None:
        """RTP has no hangup signal: stop sending and free the port (ARI hangs up the channel)."""
        self._hang_up("hangup by us")
