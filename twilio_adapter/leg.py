"""`TwilioLeg`: a Media Streams WebSocket as a `MediaLeg` (µ-law 8 kHz, PROTOCOLS.md §7.2-7.3).

Outbound audio is lead-paced (`LeadPacedLeg`) in 20 ms `media` messages: Twilio plays what it
is sent, so it is kept only `LEAD_S` ahead and a `clear` never races a seconds-long remote
buffer. A local mark is forwarded as a Twilio `mark` right after its audio and reached when
Twilio echoes it. Hanging up ends the call through Twilio's API first.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from typing import Final

import msgspec
import structlog

from media.formats import ULAW_8K
from media.lead_paced_leg import CloseSocket, LeadPacedLeg
from media.leg import Dtmf
from media.pacer import FrameTicker, shared_ticker

log = structlog.get_logger(__name__)

# Audio kept queued at Twilio ahead of what it plays: enough to ride out our ticker's jitter on
# a loaded core, small enough that `clear` is heard as an immediate stop.
LEAD_S: Final = 0.06

SendText = Callable[[str], Awaitable[None]]
EndCall = Callable[[], Awaitable[None]]
# Ending the call through Twilio's API normally takes well under a second; past this the
# socket is closed anyway (the TwiML's <Hangup/> then ends the call).
END_CALL_TIMEOUT_S: Final = 5.0

# Twilio sends a media message every 20 ms for as long as the call lasts, silence included: a
# stream quiet this long is dead or is not Twilio, and must not hold its socket.
READ_TIMEOUT_S = 15.0


class TwilioLeg(LeadPacedLeg[str]):
    """One bidirectional Media Stream. The stream handler feeds it Twilio's messages
    (`on_media`, `on_dtmf`, `on_mark`, `on_stop`); it writes Twilio's messages back."""

    peer_name = "Twilio"
    socket_name = "stream"

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
        self.stream_sid = stream_sid
        self._end_call = end_call
        self._media_prefix = (
            '{"event":"media","streamSid":"' + stream_sid + '","media":{"payload":"'
        )
        super().__init__(
            ULAW_8K,
            send_text,
            close_socket,
            ticker=ticker or shared_ticker(),
            lead_s=LEAD_S,
            read_timeout_s=read_timeout_s,
            high_water_ms=high_water_ms,
            low_water_ms=low_water_ms,
        )

    def __repr__(self) -> str:
        return f"TwilioLeg({self.stream_sid})"

    # -- inbound, from the stream handler ------------------------------------------------

    def on_media(self, payload: bytes) -> None:
        self._deliver_audio(payload)

    def on_dtmf(self, digit: str) -> None:
        self._deliver(Dtmf(digit))

    def on_stop(self) -> None:
        self._close("stream stopped by Twilio")

    def on_disconnect(self) -> None:
        self._close("stream socket closed")

    # -- MediaLeg ------------------------------------------------------------------------

    async def hangup(self) -> None:
        """End the call at Twilio (`end_call`), then close the stream."""
        if not self.closed and self._end_call is not None:
            try:
                await asyncio.wait_for(self._end_call(), END_CALL_TIMEOUT_S)
            except Exception as exc:
                log.warning("ending the call at Twilio failed", stream_sid=self.stream_sid,
                            error=repr(exc))  # fmt: skip
        await super().hangup()

    # -- the wire ------------------------------------------------------------------------

    def _audio_message(self, frame: bytes) -> str:
        return self._media_prefix + base64.b64encode(frame).decode() + '"}}'

    def _mark_message(self, name: str) -> str:
        return (
            '{"event":"mark","streamSid":"' + self.stream_sid + '","mark":{"name":'
            + _json_string(name) + "}}"
        )  # fmt: skip

    def _clear_message(self) -> str:
        return '{"event":"clear","streamSid":"' + self.stream_sid + '"}'


def _json_string(value: str) -> str:
    """A JSON string literal (mark names are ours, but escape them properly anyway)."""
    return msgspec.json.encode(value).decode()
