"""`LeadPacedLeg`: a `PacedLeg` whose peer plays whatever it receives, over a message socket.

A peer that buffers and plays (Twilio's Media Streams, a browser's AudioWorklet) must not be
sent audio as fast as it is produced: it would buffer all of it, and a barge-in `clear` would
then race seconds of audio already at the far end. Each tick tops the peer's buffer up to a
small lead (`lead_s`), tracked on our clock, so the peer never runs dry yet holds only that
lead. A local mark is forwarded right after its audio; `MarkReached` is emitted when the peer
echoes it (the caller heard it), or at once when `clear()` drops it before it was forwarded.

Subclasses only say how audio, marks and `clear` look on their wire; messages are queued and
written by one task, so a slow socket never blocks the ticker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from abc import abstractmethod
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Final, Generic, TypeVar

from media.formats import FRAME_MS, AudioFormat
from media.leg import MarkReached
from media.paced_leg import PacedLeg
from media.pacer import FrameTicker

log = logging.getLogger(__name__)

FRAME_S: Final = FRAME_MS / 1000
# Messages waiting for the socket beyond this (5 s of audio) mean the peer stopped reading:
# the leg is closed rather than buffering without bound.
MAX_PENDING_MESSAGES: Final = 250

# RFC 6455 close codes.
CLOSE_NORMAL: Final = 1000
CLOSE_POLICY: Final = 1008  # a message that violates the endpoint's policy
CLOSE_ERROR: Final = 1011  # the server met a condition that kept it from going on

MessageT = TypeVar("MessageT")  # str for a JSON wire, bytes | str for a mixed one
CloseSocket = Callable[[int, str], Awaitable[None]]


class LeadPacedLeg(PacedLeg, Generic[MessageT]):
    """One socket call leg (see module docstring). The socket handler feeds it the peer's
    audio (`_deliver_audio`) and mark echoes (`on_mark`); it writes through `send`."""

    # How this peer is named in close reasons ("Twilio stopped reading the stream").
    peer_name = "the peer"
    socket_name = "socket"

    def __init__(
        self,
        fmt: AudioFormat,
        send: Callable[[MessageT], Awaitable[None]],
        close_socket: CloseSocket,
        *,
        ticker: FrameTicker,
        lead_s: float,
        read_timeout_s: float | None,
        high_water_ms: int = 1000,
        low_water_ms: int = 500,
    ) -> None:
        super().__init__(
            fmt,
            ticker,
            read_timeout_s=read_timeout_s,
            high_water_ms=high_water_ms,
            low_water_ms=low_water_ms,
        )
        self._send = send
        self._close_socket = close_socket
        self._lead_s = lead_s
        self._pending: deque[MessageT] = deque()
        self._wake = asyncio.Event()
        self._remote_marks: set[str] = set()
        self._remote_until = 0.0  # monotonic time the peer's buffered audio will have played
        self._now = time.monotonic()
        self._close_code = CLOSE_NORMAL
        self.remote_marks_sent = 0
        self._writer = asyncio.get_running_loop().create_task(self._write_loop())
        self._start()

    # -- the wire, per transport ---------------------------------------------------------

    @abstractmethod
    def _audio_message(self, frame: bytes) -> MessageT:
        """One 20 ms frame as the peer's audio message."""

    @abstractmethod
    def _mark_message(self, name: str) -> MessageT:
        """Ask the peer to echo `name` once the audio before it has played."""

    @abstractmethod
    def _clear_message(self) -> MessageT:
        """Tell the peer to drop the audio it holds."""

    def _farewell_message(self) -> MessageT | None:
        """A last message before a normal close (None: none)."""
        return None

    # -- inbound, from the socket handler ------------------------------------------------

    def on_mark(self, name: str) -> None:
        """The peer played everything before mark `name` (or dropped it on `clear`)."""
        self._touch()
        if name in self._remote_marks:
            self._remote_marks.discard(name)
            self._emit(MarkReached(name))

    def fail(self, reason: str, code: int = CLOSE_POLICY) -> None:
        """Close after bad input from the peer, with WebSocket close `code`."""
        self._close_code = code
        self._close(reason, error=True)

    # -- MediaLeg ------------------------------------------------------------------------

    def clear(self) -> None:
        super().clear()
        if not self.closed:
            self._remote_until = 0.0
            self._queue(self._clear_message())

    @property
    def queued_ms(self) -> int:
        """Unplayed audio here plus the estimate of what the peer still holds."""
        remote_ms = max(0.0, self._remote_until - time.monotonic()) * 1000
        return self._out.queued_ms + int(remote_ms)

    async def hangup(self) -> None:
        self._hang_up("hangup from our side")
        await self.closed_and_flushed()

    async def closed_and_flushed(self) -> None:
        """Until the leg is closed and its socket released."""
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer

    # -- PacedLeg ------------------------------------------------------------------------

    def on_tick(self, now: float) -> None:
        """Top the peer's buffer up to the lead: one frame per tick when ticks are on time,
        more after a late tick or a pause, so what the caller hears never waits on our
        scheduling while a `clear` never has more than the lead to throw away."""
        out = self._out
        self._now = now
        fill_until = now + self._lead_s - FRAME_S / 2
        sent = 0
        while self._remote_until < fill_until:
            if out.has_marks:
                self._forward_marks()
            frame = out.pop_frame()
            if frame is None:
                break
            self._transmit(frame)
            if self._tap is not None:
                # Sent at most the lead before it plays: the recording's agent channel is
                # that close to what the caller heard, a barge-in's cut included.
                self._tap.outbound(frame)
            sent += 1
        if out.has_marks:
            self._forward_marks()
        self.frames_out += sent
        if self._drained is not None and out.queued_ms <= out.low_water_ms:
            self._wake_senders()
        self._count_tick()

    def _forward_marks(self) -> None:
        for name in self._out.reached_marks():
            self._remote_marks.add(name)
            self.remote_marks_sent += 1
            self._queue(self._mark_message(name))

    def _transmit(self, frame: bytes) -> None:
        self._remote_until = max(self._remote_until, self._now) + FRAME_S
        self._queue(self._audio_message(frame))

    def _queue(self, message: MessageT) -> None:
        if len(self._pending) >= MAX_PENDING_MESSAGES:
            self._close(f"{self.peer_name} stopped reading the {self.socket_name}", error=True)
            return
        self._pending.append(message)
        self._wake.set()

    def _close_transport(self) -> None:
        self._remote_marks.clear()
        self._wake.set()

    async def _write_loop(self) -> None:
        pending, wake = self._pending, self._wake
        try:
            while True:
                while pending and not self.closed:
                    await self._send(pending.popleft())
                if self.closed:
                    break
                wake.clear()
                await wake.wait()
        except Exception as exc:
            self._close(f"{self.socket_name} send failed: {exc!r}", error=True)
        pending.clear()
        try:
            farewell = None if self.failed else self._farewell_message()
            if farewell is not None:
                await self._send(farewell)
            code = self._close_code
            if code == CLOSE_NORMAL and self.failed:
                code = CLOSE_ERROR
            await self._close_socket(code, (self.close_reason or "")[:120])
        except Exception as exc:
            log.debug("%s: socket already closed (%r)", self, exc)
