"""`WebLeg`: a browser's WebSocket as a `MediaLeg` (16 kHz PCM, see `protocol`).

Outbound audio is paced here on the shared ticker, not pushed as fast as it is produced: the
browser plays what arrives, and a barge-in `clear` must not race seconds of audio already in
its buffer. Each tick tops the browser up to a small lead (`LEAD_S`), tracked on our clock. A
local mark is forwarded right after its audio; `MarkReached` is emitted when the browser
echoes it (the caller heard it), or at once when `clear()` dropped it before it was forwarded.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Final

import structlog

from media.formats import FRAME_MS
from media.leg import MarkReached
from media.paced_leg import PacedLeg
from media.pacer import FrameTicker, shared_ticker
from web_calls.protocol import CLOSE_ERROR, CLOSE_NORMAL, CLOSE_POLICY, WIRE_FORMAT, server_message

log = structlog.get_logger(__name__)

FRAME_S: Final = FRAME_MS / 1000
# Audio kept ahead of what the browser plays: rides out our ticker's and the network's jitter
# (TCP, so late rather than lost), small enough that a `clear` is heard as an immediate stop.
LEAD_S: Final = 0.1
# Messages waiting for the socket beyond this (5 s of audio) mean the browser stopped reading:
# the leg is closed rather than buffering without bound.
MAX_PENDING_MESSAGES: Final = 250
# A browser's worklet sends audio every few tens of ms for as long as the call lasts, silence
# included: a socket quiet this long lost its page or its network.
READ_TIMEOUT_S: Final = 10.0

Send = Callable[[bytes | str], Awaitable[None]]
CloseSocket = Callable[[int, str], Awaitable[None]]


class WebLeg(PacedLeg):
    """One browser call. The socket handler feeds it the browser's messages (`on_audio`,
    `on_mark`, `on_disconnect`); it writes audio and control messages back through `send`."""

    def __init__(
        self,
        name: str,
        send: Send,
        close_socket: CloseSocket,
        *,
        ticker: FrameTicker | None = None,
        read_timeout_s: float | None = READ_TIMEOUT_S,
    ) -> None:
        super().__init__(WIRE_FORMAT, ticker or shared_ticker(), read_timeout_s=read_timeout_s)
        self.name = name
        self._send = send
        self._close_socket = close_socket
        self._pending: deque[bytes | str] = deque()
        self._wake = asyncio.Event()
        self._remote_marks: set[str] = set()
        self._remote_until = 0.0  # monotonic time the browser's buffered audio will have played
        self._now = time.monotonic()
        self._close_code = CLOSE_NORMAL
        self._writer = asyncio.get_running_loop().create_task(self._write_loop())
        self._start()

    def __repr__(self) -> str:
        return f"WebLeg({self.name})"

    # -- inbound, from the socket handler ------------------------------------------------

    def on_audio(self, pcm: bytes) -> None:
        self._deliver_audio(pcm)

    def on_mark(self, name: str) -> None:
        """The browser played everything before mark `name` (or dropped it on `clear`)."""
        self._touch()
        if name in self._remote_marks:
            self._remote_marks.discard(name)
            self._emit(MarkReached(name))

    def on_disconnect(self, reason: str = "browser closed the socket") -> None:
        self._close(reason)

    def fail(self, reason: str, code: int = CLOSE_POLICY) -> None:
        """Close after bad input from the browser, with WebSocket close `code`."""
        self._close_code = code
        self._close(reason, error=True)

    def notify(self, text: str) -> None:
        """Queue a control message for the browser (transcript, latencies ...)."""
        if not self.closed:
            self._queue(text)

    # -- MediaLeg ------------------------------------------------------------------------

    def clear(self) -> None:
        super().clear()
        if not self.closed:
            self._remote_until = 0.0
            self._queue(server_message("clear"))

    @property
    def queued_ms(self) -> int:
        """Unplayed audio here plus the estimate of what the browser still holds."""
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
        """Top the browser's buffer up to `LEAD_S`: one frame per tick when ticks are on time,
        more after a late one, so playback never waits on our scheduling."""
        out = self._out
        self._now = now
        fill_until = now + LEAD_S - FRAME_S / 2
        sent = 0
        while self._remote_until < fill_until:
            if out.has_marks:
                self._forward_marks()
            frame = out.pop_frame()
            if frame is None:
                break
            self._transmit(frame)
            if self._tap is not None:
                # Sent at most `LEAD_S` before it plays: the recording is that close to what
                # the caller heard, a barge-in's cut included.
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
            self._queue(server_message("mark", name=name))

    def _transmit(self, frame: bytes) -> None:
        self._remote_until = max(self._remote_until, self._now) + FRAME_S
        self._queue(frame)

    def _queue(self, message: bytes | str) -> None:
        if len(self._pending) >= MAX_PENDING_MESSAGES:
            self._close("the browser stopped reading the socket", error=True)
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
            self._close(f"socket send failed: {exc!r}", error=True)
        pending.clear()
        try:
            if not self.failed:
                await self._send(server_message("ended", reason=self.close_reason or ""))
            code = (
                self._close_code
                if self._close_code != CLOSE_NORMAL or not self.failed
                else CLOSE_ERROR
            )
            await self._close_socket(code, (self.close_reason or "")[:120])
        except Exception as exc:
            log.debug("web call socket already closed", leg=self.name, error=repr(exc))
