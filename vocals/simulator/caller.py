"""A simulated phone caller: what it says (an `AudioSource`) and what it hears."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Final, Protocol

# 20 ms of slin 8 kHz, 16-bit: the unit a phone sends and the simulator moves.
FRAME_BYTES: Final = 320
SILENCE_FRAME: Final = bytes(FRAME_BYTES)

# (slin 8 kHz PCM of 20 ms, time.monotonic() of arrival at the simulated phone)
OnFrameReceived = Callable[[bytes, float], None]


class AudioSource(Protocol):
    """What the caller says: asked for one 20 ms frame every 20 ms once the call is bridged."""

    def next_frame(self) -> bytes | None:
        """320 bytes of slin 8 kHz LE, or None when the caller is silent now."""


class QueueSource:
    """Says whatever was `play`ed, in order; silent when the queue is empty."""

    def __init__(self) -> None:
        self._pending = bytearray()

    def play(self, pcm: bytes) -> None:
        """Queue slin 8 kHz LE audio to be said (a partial last frame is padded)."""
        self._pending += pcm

    def clear(self) -> None:
        """Stop talking: drop what has not been said yet."""
        self._pending.clear()

    @property
    def queued_ms(self) -> int:
        return len(self._pending) // 16

    def next_frame(self) -> bytes | None:
        if not self._pending:
            return None
        frame = bytes(self._pending[:FRAME_BYTES])
        del self._pending[:FRAME_BYTES]
        return frame if len(frame) == FRAME_BYTES else frame + bytes(FRAME_BYTES - len(frame))


class SimulatedCall:
    """One caller's call into the simulated Asterisk.

    `answered` is set when the server answers, `media_up` once the caller is bridged with the
    server's external media (audio flows both ways from then on), `ended` when the call is
    over (`ended_by`: "caller" or "server"). `encapsulation` is what the server asked for
    (audiosocket or rtp).
    """

    def __init__(
        self,
        channel_id: str,
        did: str,
        source: AudioSource,
        on_frame_received: OnFrameReceived | None,
        hangup: Callable[[SimulatedCall], Awaitable[None]],
        *,
        send_silence: bool = True,
    ) -> None:
        self.channel_id = channel_id
        self.did = did
        self.source = source
        self._on_frame_received = on_frame_received
        self._hangup = hangup
        self.send_silence = send_silence
        self.placed_at = time.monotonic()
        self.answered = asyncio.Event()
        self.media_up = asyncio.Event()
        self.ended = asyncio.Event()
        self.ended_by: str | None = None
        self.hangup_cause: int | None = None  # the Q.850 cause the server hung up with
        self.encapsulation: str | None = None
        self.frames_received = 0
        self.frames_sent = 0

    def frame_received(self, pcm: bytes, at: float) -> None:
        self.frames_received += 1
        if self._on_frame_received is not None:
            self._on_frame_received(pcm, at)

    def play(self, pcm: bytes) -> None:
        """Say `pcm` (slin 8 kHz LE); only for calls placed with the default `QueueSource`."""
        if not isinstance(self.source, QueueSource):
            raise TypeError("this call speaks from its own audio source")
        self.source.play(pcm)

    async def hangup(self) -> None:
        """The caller hangs up (a SIP BYE): the server sees StasisEnd for its channel."""
        await self._hangup(self)

    async def wait_ended(self, timeout_s: float) -> None:
        await asyncio.wait_for(self.ended.wait(), timeout_s)
