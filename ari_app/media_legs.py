"""Bringing up a call's external media leg: AudioSocket (default) or RTP.

For AudioSocket Asterisk connects to our `AudioSocketServer` and sends the UUID we put in
`data`; the leg is handed over through `LegWaiters`. For RTP we bind a port first, tell
Asterisk to send there, and learn where to send back from the externalMedia answer.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Final

import msgspec
import structlog

from media.formats import ULAW_8K
from media.leg import MediaLeg
from media.rtp import RtpLeg, RtpPortPool

log = structlog.get_logger(__name__)

# Asterisk sends the UUID right after answering externalMedia; seconds mean it never will.
LEG_CONNECT_TIMEOUT_S: Final = 5.0


class MediaSettings(msgspec.Struct, kw_only=True, frozen=True):
    """Where Asterisk reaches our media listeners and which formats we ask for.

    `audiosocket_format` slin means AudioSocket kind 0x10 both ways (symmetric; see
    PROTOCOLS.md §2.4); `rtp_format` ulaw is PT 0.
    """

    advertise_host: str = "127.0.0.1"
    # The address RTP legs bind: the external-media listen host, not every interface.
    bind_host: str = "127.0.0.1"
    audiosocket_port: int = 9092
    audiosocket_format: str = "slin"
    rtp_format: str = "ulaw"


class LegWaiters:
    """AudioSocket legs by call UUID: the controller waits, the server's `on_leg` delivers."""

    def __init__(self) -> None:
        self._waiting: dict[uuid.UUID, asyncio.Future[MediaLeg]] = {}

    def expect(self, call_uuid: uuid.UUID) -> asyncio.Future[MediaLeg]:
        future: asyncio.Future[MediaLeg] = asyncio.get_running_loop().create_future()
        self._waiting[call_uuid] = future
        return future

    def forget(self, call_uuid: uuid.UUID) -> None:
        future = self._waiting.pop(call_uuid, None)
        if future is not None and not future.done():
            future.cancel()

    async def on_leg(self, call_uuid: uuid.UUID, leg: MediaLeg) -> None:
        """`AudioSocketServer`'s `on_leg`: hand the leg to its call, or hang up a stranger."""
        future = self._waiting.pop(call_uuid, None)
        if future is None or future.done():
            # Usually a call that ended while Asterisk was connecting its media.
            log.info("audiosocket leg for no waiting call", media_uuid=str(call_uuid))
            await leg.hangup()
            return
        future.set_result(leg)


async def open_rtp_leg(pool: RtpPortPool, host: str) -> RtpLeg:
    """Bind a µ-law RTP leg on `host`; its remote is set from the externalMedia answer."""
    return await RtpLeg.open(pool, ULAW_8K, host=host)
