"""`PacedLeg`: the transport-independent half of a `MediaLeg`.

It owns the inbound event queue, the outbound `OutboundQueue`, backpressure, marks and the
tick that sends one frame per 20 ms. A transport subclass only implements `_transmit` (put one
wire frame on the network), `_close_transport` and feeds inbound frames with `_deliver`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import abstractmethod
from collections import deque
from collections.abc import AsyncIterator

from media.formats import AudioFormat
from media.leg import LegEvent, LegTap, MarkReached, MediaLeg, MediaLegClosed
from media.pacer import FrameTicker, OutboundQueue

log = logging.getLogger(__name__)

# Inbound events kept while nobody reads `events()`: 10 s of 20 ms frames. Beyond that the
# oldest are dropped (and counted) so a stuck consumer cannot grow memory without bound.
INBOX_LIMIT = 500
# How often (in ticks) a leg checks its read timeout: once a second is plenty.
_TIMEOUT_CHECK_TICKS = 50


class PacedLeg(MediaLeg):
    """Common machinery of the AudioSocket and RTP legs (see module docstring)."""

    def __init__(
        self,
        fmt: AudioFormat,
        ticker: FrameTicker,
        *,
        read_timeout_s: float | None = None,
        high_water_ms: int = 1000,
        low_water_ms: int = 500,
    ) -> None:
        self.format = fmt
        self._ticker = ticker
        self._out = OutboundQueue(fmt, high_water_ms=high_water_ms, low_water_ms=low_water_ms)
        self._inbox: deque[LegEvent] = deque()
        self._in_buf = bytearray()
        self._inbox_waiter: asyncio.Future[None] | None = None
        self._drained: asyncio.Event | None = None
        self._clears = 0  # clear() calls so far, so a send blocked across one drops its audio
        self._closed = False
        self.close_reason: str | None = None
        self.failed = False  # closed because of bad input, a timeout or a transport error
        self._hung_up = False
        self._read_timeout_s = read_timeout_s
        self._last_rx = time.monotonic()
        self._ticks = 0
        self.frames_in = 0
        self.frames_out = 0
        self.inbound_dropped = 0
        self._tap: LegTap | None = None

    # -- MediaLeg -------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[LegEvent]:
        inbox = self._inbox
        while True:
            while inbox:
                yield inbox.popleft()
            if self._closed:
                return
            waiter = asyncio.get_running_loop().create_future()
            self._inbox_waiter = waiter
            try:
                await waiter
            finally:
                self._inbox_waiter = None

    async def send(self, frame: bytes) -> None:
        if self._closed:
            raise MediaLegClosed(self.close_reason or "closed")
        out = self._out
        if out.queued_ms >= out.high_water_ms:
            if self._drained is None:
                self._drained = asyncio.Event()
            self._drained.clear()
            generation = self._clears
            await self._drained.wait()
            if self._closed:
                raise MediaLegClosed(self.close_reason or "closed")
            if self._clears != generation:
                return  # handed over before a clear(): it is as stale as what was dropped
        out.push(frame)

    def clear(self) -> None:
        self._clears += 1
        for name in self._out.clear():
            self._emit(MarkReached(name))
        self._wake_senders()

    def mark(self, name: str) -> None:
        self._out.mark(name)

    def flush(self) -> None:
        """Let a trailing partial frame play, padded with silence."""
        self._out.flush()

    def set_tap(self, tap: LegTap | None) -> bool:
        self._tap = tap
        return True

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def queued_ms(self) -> int:
        return self._out.queued_ms

    # -- for transports -------------------------------------------------------------------

    def _set_format(self, fmt: AudioFormat) -> None:
        """Settle the wire format (before any outbound audio is queued)."""
        out = self._out
        self.format = fmt
        self._out = OutboundQueue(
            fmt, high_water_ms=out.high_water_ms, low_water_ms=out.low_water_ms
        )

    def _start(self) -> None:
        """Begin pacing; call once the transport can send."""
        self._last_rx = time.monotonic()
        self._ticker.add(self)

    def _touch(self) -> None:
        """Note inbound activity that carries no event (keeps the read timeout at bay)."""
        self._last_rx = time.monotonic()

    def _deliver(self, event: LegEvent) -> None:
        """Hand an inbound frame or event to `events()`; counts as activity for the timeout."""
        self._last_rx = time.monotonic()
        if isinstance(event, bytes):
            self.frames_in += 1
            if self._tap is not None:
                self._tap.inbound(event)
        self._emit(event)

    def _deliver_audio(self, payload: bytes) -> None:
        """Deliver inbound wire audio of any length as 20 ms frames."""
        fb = self._out.format.frame_bytes
        buf = self._in_buf
        if not buf and len(payload) == fb:
            self._deliver(payload)
            return
        buf += payload
        while len(buf) >= fb:
            self._deliver(bytes(buf[:fb]))
            del buf[:fb]

    def _emit(self, event: LegEvent) -> None:
        inbox = self._inbox
        if len(inbox) >= INBOX_LIMIT:
            inbox.popleft()
            self.inbound_dropped += 1
        inbox.append(event)
        waiter = self._inbox_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake_senders(self) -> None:
        drained = self._drained
        if drained is not None and not drained.is_set():
            drained.set()

    @property
    def hung_up(self) -> bool:
        return self._hung_up

    def _hang_up(self, reason: str) -> None:
        """Close the leg because our side ended the call (unless the peer closed it first)."""
        if not self._closed:
            self._hung_up = True
            self._close(reason)

    def _close(self, reason: str, *, error: bool = False) -> None:
        """Close the leg once, log why, wake every waiter."""
        if self._closed:
            return
        self._closed = True
        self.close_reason = reason
        self.failed = error
        self._ticker.discard(self)
        self._out.clear()
        (log.warning if error else log.info)("%s closed: %s", self, reason)
        self._close_transport()
        self._wake_senders()
        waiter = self._inbox_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    @abstractmethod
    def _transmit(self, frame: bytes) -> None:
        """Send one 20 ms frame in the leg's wire format."""

    def _idle_tick(self) -> None:
        """Called on ticks with nothing to send (RTP keeps its timestamp running)."""

    @abstractmethod
    def _close_transport(self) -> None:
        """Release the socket; called once from `_close`."""

    # -- TickTarget -----------------------------------------------------------------------

    def on_tick(self, now: float) -> None:
        out = self._out
        if out.has_marks:
            for name in out.reached_marks():
                self._emit(MarkReached(name))
        frame = out.pop_frame()
        if frame is None:
            self._idle_tick()
        else:
            self._transmit(frame)
            self.frames_out += 1
            if self._tap is not None:
                self._tap.outbound(frame)
        if self._drained is not None and out.queued_ms <= out.low_water_ms:
            self._wake_senders()
        self._count_tick()

    def _count_tick(self) -> None:
        """Count a tick; every `_TIMEOUT_CHECK_TICKS`, close the leg if its peer fell silent."""
        self._ticks += 1
        if self._read_timeout_s is not None and self._ticks % _TIMEOUT_CHECK_TICKS == 0:
            silent_s = time.monotonic() - self._last_rx
            if silent_s > self._read_timeout_s:
                self._close(f"read timeout: peer silent for {silent_s:.1f} s", error=True)
