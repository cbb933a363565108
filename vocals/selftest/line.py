"""selftest's end of the test call: its own Stasis app, AudioSocket listener and bridge.

Before dialling, selftest creates a bridge with an AudioSocket channel of its own (Asterisk
connects to selftest's listener), so the caller's half of the call is bridged with one
request once it is answered and not a frame of the greeting is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Final

import structlog

from ari_app.client import AriClient
from ari_app.errors import AriError
from ari_app.events import (
    AriEvent,
    ChannelDestroyed,
    ChannelHangupRequest,
    StasisEnd,
    StasisStart,
    UnknownEvent,
)
from ari_app.listener import EventListener
from ari_app.media_legs import LegWaiters
from media.audiosocket import AudioSocketLeg, AudioSocketServer
from media.leg import MarkReached, MediaLeg, MediaLegClosed

log = structlog.get_logger(__name__)

# Asterisk connects the AudioSocket and the channel enters Stasis within milliseconds.
MEDIA_UP_TIMEOUT_S: Final = 10.0
EVENTS_CONNECT_TIMEOUT_S: Final = 10.0
# A phone sends audio all the time, silence between words included: the far end's end-of-speech
# detection needs it. selftest keeps this much of it queued ahead of the pacer.
SILENCE_LEAD_MS: Final = 60
SILENCE_FRAME: Final = bytes(320)
TALK_PERIOD_S: Final = 0.02
# selftest's bridge is named so that no Vocals process mistakes it for an orphan of its own
# (those are named `<app>-...`).
BRIDGE_PREFIX: Final = "selftest-"


@dataclass
class CallerHalf:
    """The channel of the test call that is in selftest's app (the caller's phone)."""

    channel_id: str
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    answered_at: float | None = None
    ended_at: float | None = None
    cause: int | None = None
    cause_txt: str = ""
    hung_up_by_selftest: bool = False
    # selftest's own media connection closed under it (Asterisk went away mid-call).
    media_lost: bool = False
    stasis_ended: asyncio.Event = field(default_factory=asyncio.Event)


class CallerLine:
    """selftest's Stasis app over ARI, with the AudioSocket it speaks and listens through."""

    def __init__(self, ari: AriClient, *, listen_host: str, advertise_host: str) -> None:
        self.ari = ari
        self.app = ari.app
        self._advertise_host = advertise_host
        self._waiters = LegWaiters()
        self._server = AudioSocketServer(
            listen_host,
            0,
            self._waiters.on_leg,
            read_timeout_s=None,
            format_timeout_s=0.0,
            health_port=None,
        )
        self.listener = EventListener(ari.settings, self._handle)
        self.bridge_id: str | None = None
        self.media_channel_id: str | None = None
        self.leg: AudioSocketLeg | None = None
        self.caller: CallerHalf | None = None
        self._media_started = asyncio.Event()
        self._accepting = False
        self._arrived = asyncio.Event()
        self._marks: dict[str, asyncio.Event] = {}
        self._phrases: deque[tuple[bytes, str, str]] = deque()
        self._tasks: list[asyncio.Task[None]] = []

    async def open(self) -> None:
        """Listen for Asterisk's AudioSocket and connect selftest's events WebSocket."""
        await self._server.start()
        self.listener.start()
        try:
            await self.listener.wait_connected(EVENTS_CONNECT_TIMEOUT_S)
        except TimeoutError:
            raise AriError(0, "events WebSocket did not connect", "GET", "/events") from None

    async def prepare_media(self) -> None:
        """Bridge an AudioSocket channel of selftest's, ready for the caller's half."""
        bridge = await self.ari.create_bridge(name=f"{BRIDGE_PREFIX}{uuid.uuid4()}")
        self.bridge_id = bridge.id
        media_uuid = uuid.uuid4()
        waiting = self._waiters.expect(media_uuid)
        # Named before the request: its StasisStart may be handled before the answer is read.
        self.media_channel_id = f"selftest-media-{media_uuid}"
        channel = await self.ari.external_media(
            external_host=f"{self._advertise_host}:{self._server.port}",
            format="slin",
            app=self.app,
            channel_id=self.media_channel_id,
            data=str(media_uuid),
        )
        async with asyncio.timeout(MEDIA_UP_TIMEOUT_S):
            leg = await waiting
            await self._media_started.wait()
        assert isinstance(leg, AudioSocketLeg)
        self.leg = leg
        self._tasks = [asyncio.create_task(self._read(leg)), asyncio.create_task(self._talk(leg))]
        await self.ari.add_channels(bridge.id, [channel.id])

    def expect_caller(self, channel_id: str) -> CallerHalf:
        """The caller's half will be this channel (selftest names it when originating)."""
        self.caller = CallerHalf(channel_id)
        return self.caller

    def accept_next_caller(self) -> None:
        """The next channel the dialplan sends into selftest's app is the caller's half (the
        callee's, in outbound mode)."""
        self._accepting = True

    async def caller_arrived(self) -> CallerHalf:
        await self._arrived.wait()
        assert self.caller is not None
        return self.caller

    async def connect_caller(self) -> None:
        """Put the answered caller's half in selftest's bridge."""
        assert self.caller is not None and self.bridge_id is not None
        await self.ari.add_channels(self.bridge_id, [self.caller.channel_id])

    async def say(self, pcm: bytes) -> tuple[float, float]:
        """Speak `pcm` (slin 8 kHz) into the call; returns when it started and ended going out
        (time.monotonic())."""
        start, end = f"start-{uuid.uuid4()}", f"end-{uuid.uuid4()}"
        started = self._mark(start)
        ended = self._mark(end)
        self._phrases.append((pcm, start, end))
        await started.wait()
        started_at = time.monotonic()
        await ended.wait()
        return started_at, time.monotonic()

    def _mark(self, name: str) -> asyncio.Event:
        event = asyncio.Event()
        self._marks[name] = event
        return event

    async def _talk(self, leg: MediaLeg) -> None:
        """Say the queued phrases, and silence in between, as a phone does."""
        with contextlib.suppress(MediaLegClosed):
            await self._talk_until_closed(leg)

    async def _talk_until_closed(self, leg: MediaLeg) -> None:
        while not leg.closed:
            if self._phrases:
                pcm, start, end = self._phrases.popleft()
                leg.mark(start)
                await leg.send(pcm)
                leg.mark(end)  # pads a partial last frame
            while leg.queued_ms < SILENCE_LEAD_MS and not leg.closed:
                await leg.send(SILENCE_FRAME)
            await asyncio.sleep(TALK_PERIOD_S)

    async def _read(self, leg: MediaLeg) -> None:
        """Drain the leg (heard audio reaches the ear through its tap); note played marks."""
        async for item in leg.events():
            if isinstance(item, MarkReached):
                event = self._marks.pop(item.name, None)
                if event is not None:
                    event.set()
        for event in self._marks.values():
            event.set()
        caller = self.caller
        if caller is not None and not caller.ended.is_set() and self.media_channel_id is not None:
            caller.media_lost = True
            caller.ended_at = time.monotonic()
            caller.ended.set()

    async def hang_up_caller(self) -> None:
        """The caller hangs up (unless the call is already over)."""
        caller = self.caller
        if caller is None or caller.ended.is_set():
            return
        caller.hung_up_by_selftest = True
        with contextlib.suppress(AriError):
            await self.ari.hangup(caller.channel_id)

    async def close_media(self) -> None:
        """Hang up selftest's own media channel and destroy its bridge."""
        media, self.media_channel_id = self.media_channel_id, None
        if media is not None:
            with contextlib.suppress(AriError):
                await self.ari.hangup(media)
        bridge, self.bridge_id = self.bridge_id, None
        if bridge is not None:
            with contextlib.suppress(AriError):
                await self.ari.destroy_bridge(bridge)

    async def close(self) -> None:
        """Release everything selftest holds in Asterisk and here."""
        await self.close_media()
        await self.listener.stop()
        await self._server.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.ari.close()

    async def _handle(self, event: AriEvent | UnknownEvent) -> None:
        caller = self.caller
        if isinstance(event, StasisStart):
            if event.channel.id == self.media_channel_id:
                self._media_started.set()
            elif caller is not None and event.channel.id == caller.channel_id:
                caller.answered_at = time.monotonic()
                caller.answered.set()
            elif caller is None and self._accepting:
                # Adopted here, not by the waiting task: its hangup may be the next event.
                self.caller = CallerHalf(event.channel.id)
                self.caller.answered.set()
                self._arrived.set()
            else:
                log.warning("unexpected channel in selftest's app", channel=event.channel.id)
            return
        if caller is None or isinstance(event, UnknownEvent):
            return
        if isinstance(event, ChannelHangupRequest | StasisEnd | ChannelDestroyed):
            if event.channel.id != caller.channel_id:
                return
            if isinstance(event, ChannelDestroyed):
                caller.cause, caller.cause_txt = event.cause, event.cause_txt
            if isinstance(event, StasisEnd | ChannelDestroyed):
                caller.stasis_ended.set()
            if not caller.ended.is_set():
                caller.ended_at = time.monotonic()
                caller.ended.set()
