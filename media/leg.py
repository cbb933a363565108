"""`MediaLeg`: the one interface every call's audio goes through, whatever its transport."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from media.formats import AudioFormat


@dataclass(frozen=True, slots=True)
class Dtmf:
    """A DTMF digit pressed by the caller (0-9, *, #, A-D)."""

    digit: str


@dataclass(frozen=True, slots=True)
class MarkReached:
    """Outbound playback reached the point where `MediaLeg.mark(name)` was called."""

    name: str


# What `MediaLeg.events()` yields: a 20 ms inbound audio frame in the wire codec, or an event.
LegEvent = bytes | Dtmf | MarkReached


class LegTap(Protocol):
    """Sees a leg's audio as the two parties heard it (e.g. a call recorder).

    Called on the event loop, once per 20 ms frame in the leg's `format`: keep it cheap and
    never block.
    """

    def inbound(self, frame: bytes) -> None:
        """A frame the caller sent, as it arrived."""

    def outbound(self, frame: bytes) -> None:
        """A frame of ours at the moment it went out to the caller (cleared audio never does)."""


class MediaLegClosed(Exception):
    """Raised by `send` once the leg is closed (hangup from either side or a transport error)."""


class MediaLeg(ABC):
    """Audio transport of one call.

    Codec detection happens inside the leg; users see only `format`. Outbound frames are
    queued and paced at real time by the leg, so `clear()` can drop what the caller has not
    heard yet.
    """

    format: AudioFormat

    @abstractmethod
    def events(self) -> AsyncIterator[LegEvent]:
        """Inbound 20 ms frames (bytes, wire codec) interleaved with DTMF and mark events.

        Ends when the leg closes. Only one consumer may iterate.
        """

    @abstractmethod
    async def send(self, frame: bytes) -> None:
        """Queue outbound audio in the wire codec (any length; the leg frames and pads it).

        Waits while the outbound queue is above its high-water mark, so producers cannot run
        ahead of real time by more than that. Raises `MediaLegClosed` once closed.
        """

    @abstractmethod
    def clear(self) -> None:
        """Drop all queued outbound audio at once (barge-in); marks queued behind it fire."""

    @abstractmethod
    def mark(self, name: str) -> None:
        """Emit `MarkReached(name)` from `events()` once everything queued so far has played."""

    @abstractmethod
    async def hangup(self) -> None:
        """End the call's media from our side and close the leg. Idempotent."""

    @property
    @abstractmethod
    def closed(self) -> bool:
        """True once the leg has closed, from either side."""

    @property
    def hung_up(self) -> bool:
        """True when our `hangup()` closed the leg (we ended the media, not the peer)."""
        return False

    @property
    @abstractmethod
    def queued_ms(self) -> int:
        """Milliseconds of outbound audio queued and not yet played."""

    def set_tap(self, tap: LegTap | None) -> bool:
        """Let `tap` see this leg's audio from now on (None: stop). False when this leg cannot
        tell when its outbound audio is actually played, so it offers no tap."""
        return False
