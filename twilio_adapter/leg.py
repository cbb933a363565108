"""`TwilioLeg`: a Media Streams WebSocket as a `MediaLeg` (µ-law 8 kHz, PROTOCOLS.md §7.2-7.3).

Outbound audio is paced here in 20 ms `media` messages on the shared ticker, not pushed to
Twilio as fast as it is produced: Twilio would buffer it all, and a barge-in `clear` would
then race a seconds-long remote buffer. Each tick tops Twilio's buffer up to a small lead
(`LEAD_S`), tracked on our clock, so Twilio never runs dry yet holds only that lead. A local mark
is forwarded as a Twilio `mark` right after its audio; `MarkReached` is emitted when Twilio
echoes it (the caller heard it), or at once when `clear()` drops it before it was forwarded.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Final

import msgspec
import structlog

from media.formats import FRAME_MS, ULAW_8K
from media.leg import Dtmf, MarkReached
from media.paced_leg import PacedLeg
from media.pacer import FrameTicker, shared_ticker

log = structlog.get_logger(__name__)

FRAME_S: Final = FRAME_MS / 1000
# Audio kept queued at Twilio ahead of what it plays: enough to ride out our ticker's jitter on
# a loaded core, small enough that `clear` is heard as an immediate stop.
LEAD_S: Final = 0.06
# Outbound messages waiting for the socket beyond this (5 s of audio) mean the peer stopped
# reading: the leg is closed rather than buffering without bound.
MAX_PENDING_MESSAGES: Final = 250

CLOSE_NORMAL: Final = 1000
CLOSE_POLICY: Final = 1008  # RFC 6455: a message that violates the endpoint's policy

SendText = Callable[[str], Awaitable[None]]
CloseSocket = Callable[[int, str], Awaitable[None]]
EndCall = Callable[[], Awaitable[None]]
# Ending the call through Twilio's API normally takes well under a second; past this the
# socket is closed anyway (the TwiML's <Hangup/> then ends the call).
END_CALL_TIMEOUT_S: Final = 5.0


# Twilio sends a media message every 20 ms for as long as the call lasts, silence included: a
# stream quiet this long is dead or is not Twilio, and must not hold its socket.
READ_TIMEOUT_S = 15.0


class TwilioLeg(PacedLeg):
    """One bidirectional Media Stream. The stream handler feeds it Twilio's messages
    (`on_media`, `on_dtmf`, `on_mark`, `on_stop`); it writes Twilio's messages back."""

    def __init__(
        self,
        stream_sid: str,
        send_text: SendText,
        close_socket: CloseSocket,
        *,
        end_call: EndCall | None = None,
        ticker: FrameTicker | None = None,
        read_timeout_s: float | None = READ_TIMEOUT_S,
        high_water_ms: int = 1000,
        low_water_ms: int = 500,
    ) -> None:
        super().__init__(
            ULAW_8K,
            ticker or shared_ticker(),
            read_timeout_s=read_timeout_s,
            high_water_ms=high_water_ms,
            low_water_ms=low_water_ms,
        )
        self.stream_sid = stream_sid
        self._send_text = send_text
        self._close_socket = close_socket
        self._end_call = end_call
        self._media_prefix = (
            '{"event":"media","streamSid":"' + stream_sid + '","media":{"payload":"'
        )
        self._pending: deque[str] = deque()
        self._wake = asyncio.Event()
        self._remote_marks: set[str] = set()
        self._remote_until = 0.0  # monotonic time Twilio's buffered audio will have played
        self._now = time.monotonic()
        self._close_code = CLOSE_NORMAL
        self.remote_marks_sent = 0
        self._writer = asyncio.get_running_loop().create_task(self._write_loop())
        self._start()

    def __repr__(self) -> str:
        return f"TwilioLeg({self.stream_sid})"

    # -- inbound, from the stream handler ------------------------------------------------

    def on_media(self, payload: bytes) -> None:
        self._deliver_audio(payload)

    def on_dtmf(self, digit: str) -> None:
        self._deliver(Dtmf(digit))

    def on_mark(self, name: str) -> None:
        """Twilio played everything before mark `name` (or dropped it on `clear`)."""
        self._touch()
        if name in self._remote_marks:
            self._remote_marks.discard(name)
            self._emit(MarkReached(name))

    def on_stop(self) -> None:
        self._close("stream stopped by Twilio")

    def on_disconnect(self) -> None:
        self._close("stream socket closed")

    def fail(self, reason: str, code: int = CLOSE_POLICY) -> None:
        """Close after bad input from the peer, with WebSocket close `code`."""
        self._close_code = code
        self._close(reason, error=True)

    # -- MediaLeg ------------------------------------------------------------------------

    def clear(self) -> None:
        super().clear()
        if not self.closed:
            self._remote_until = 0.0
            self._queue('{"event":"clear","streamSid":"' + self.stream_sid + '"}')

    @property
    def queued_ms(self) -> int:
        """Unplayed audio here plus the estimate of what Twilio still holds."""
        remote_ms = max(0.0, self._remote_until - time.monotonic()) * 1000
        return self._out.queued_ms + int(remote_ms)

    async def hangup(self) -> None:
        """End the call at Twilio (`end_call`), then close the stream."""
        if not self.closed and self._end_call is not None:
            try:
                await asyncio.wait_for(self._end_call(), END_CALL_TIMEOUT_S)
            except Exception as exc:
                log.warning("ending the call at Twilio failed", stream_sid=self.stream_sid,
                            error=repr(exc))  # fmt: skip
        self._hang_up("hangup from our side")
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer

    async def closed_and_flushed(self) -> None:
        """Until the leg is closed and its socket released."""
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer

    # -- PacedLeg ------------------------------------------------------------------------

    def on_tick(self, now: float) -> None:
        """Top Twilio's buffer up to `LEAD_S` of audio: one frame per tick when ticks are on
        time, more after a late tick or a pause, so what the caller hears never waits on our
        scheduling while a `clear` never has more than the lead to throw away."""
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
                # Sent at most `LEAD_S` before it plays: the recording's agent channel is
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
            self._queue(
                '{"event":"mark","streamSid":"' + self.stream_sid + '","mark":{"name":'
                + _json_string(name) + "}}"
            )  # fmt: skip

    def _transmit(self, frame: bytes) -> None:
        self._remote_until = max(self._remote_until, self._now) + FRAME_S
        self._queue(self._media_prefix + base64.b64encode(frame).decode() + '"}}')

    def _queue(self, text: str) -> None:
        if len(self._pending) >= MAX_PENDING_MESSAGES:
            self._close("Twilio stopped reading the stream", error=True)
            return
        self._pending.append(text)
        self._wake.set()

    def _close_transport(self) -> None:
        self._remote_marks.clear()
        self._wake.set()

    async def _write_loop(self) -> None:
        pending, wake = self._pending, self._wake
        try:
            while True:
                while pending and not self.closed:
                    await self._send_text(pending.popleft())
                if self.closed:
                    break
                wake.clear()
                await wake.wait()
        except Exception as exc:
            self._close(f"stream send failed: {exc!r}", error=True)
        pending.clear()
        try:
            code = self._close_code if self._close_code != CLOSE_NORMAL or not self.failed else 1011
            await self._close_socket(code, (self.close_reason or "")[:120])
        except Exception as exc:
            log.debug("stream socket already closed", stream_sid=self.stream_sid, error=repr(exc))


def _json_string(value: str) -> str:
    """A JSON string literal (mark names are ours, but escape them properly anyway)."""
    return msgspec.json.encode(value).decode()
