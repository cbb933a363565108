"""`WebLeg`: a browser's WebSocket as a `MediaLeg` (16 kHz PCM, see `protocol`).

Outbound audio is lead-paced (`LeadPacedLeg`): the browser's AudioWorklet plays what arrives,
so it is kept only `LEAD_S` ahead and a `clear` is heard as an immediate stop. Marks are
reached when the page echoes them. A normal close is announced with an `ended` message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from media.lead_paced_leg import CloseSocket, LeadPacedLeg
from media.pacer import FrameTicker, shared_ticker
from web_calls.protocol import WIRE_FORMAT, server_message

# Audio kept ahead of what the browser plays: rides out our ticker's and the network's jitter
# (TCP, so late rather than lost), small enough that a `clear` is heard as an immediate stop.
LEAD_S: Final = 0.1
# A browser's worklet sends audio every few tens of ms for as long as the call lasts, silence
# included: a socket quiet this long lost its page or its network.
READ_TIMEOUT_S: Final = 10.0

Message = bytes | str
Send = Callable[[Message], Awaitable[None]]


class WebLeg(LeadPacedLeg[Message]):
    """One browser call. The socket handler feeds it the browser's messages (`on_audio`,
    `on_mark`, `on_disconnect`); it writes audio and control messages back through `send`."""

    peer_name = "the browser"

    def __init__(
        self,
        name: str,
        send: Send,
        close_socket: CloseSocket,
        *,
        ticker: FrameTicker | None = None,
        read_timeout_s: float | None = READ_TIMEOUT_S,
    ) -> None:
        self.name = name
        super().__init__(
            WIRE_FORMAT,
            send,
            close_socket,
            ticker=ticker or shared_ticker(),
            lead_s=LEAD_S,
            read_timeout_s=read_timeout_s,
        )

    def __repr__(self) -> str:
        return f"WebLeg({self.name})"

    def on_audio(self, pcm: bytes) -> None:
        self._deliver_audio(pcm)

    def on_disconnect(self, reason: str = "browser closed the socket") -> None:
        self._close(reason)

    def notify(self, text: str) -> None:
        """Queue a control message for the browser (transcript, latencies ...)."""
        if not self.closed:
            self._queue(text)

    def _audio_message(self, frame: bytes) -> Message:
        return frame

    def _mark_message(self, name: str) -> Message:
        return server_message("mark", name=name)

    def _clear_message(self) -> Message:
        return server_message("clear")

    def _farewell_message(self) -> Message:
        return server_message("ended", reason=self.close_reason or "")
