"""The caller on hold during a warm transfer: out of the agent's bridge, hearing a comfort tone
Asterisk generates itself (a `tone:` playback: no music file to ship or download), until the
caller is back in the bridge, with the human or with the agent."""

from __future__ import annotations

import contextlib
from typing import Final

import structlog

from ari_app.client import AriClient
from ari_app.errors import AriError

log = structlog.get_logger(__name__)

# A 440 Hz beep every 3 s: tells the caller the line is alive, without a music file. Its
# segments are split by '|', which Asterisk's tone player also takes: ARI would read a ','
# as the start of a second media URI.
HOLD_TONE: Final = "tone:440/250|0/2750"


class CallerHold:
    """`start` takes the caller out of the bridge onto hold; `end` puts it back (once)."""

    def __init__(self, ari: AriClient, bridge_id: str, caller_channel: str) -> None:
        self._ari = ari
        self._bridge = bridge_id
        self._caller = caller_channel
        self._playback: str | None = None
        self.on_hold = False

    async def start(self) -> None:
        """Out of the bridge (raises `AriError` if that fails), then the tone; a tone Asterisk
        refuses leaves the caller in silence, not the transfer undone."""
        await self._ari.remove_channels(self._bridge, [self._caller])
        self.on_hold = True
        try:
            self._playback = (await self._ari.play(self._caller, [HOLD_TONE])).id
        except AriError as exc:
            log.warning("hold tone refused", error=exc.message)

    async def end(self) -> None:
        """The tone stops (a playback blocks a bridge join), the caller rejoins the bridge."""
        if not self.on_hold:
            return
        self.on_hold = False
        if self._playback is not None:
            with contextlib.suppress(AriError):  # already over with the channel
                await self._ari.stop_playback(self._playback)
            self._playback = None
        await self._ari.add_channels(self._bridge, [self._caller])
