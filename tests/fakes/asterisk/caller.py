"""The far end of a fake call: a programmable caller (inbound) or callee (outbound).

It plays slin 8 kHz PCM into the call, records what reaches it, presses DTMF and hangs up
after N seconds or on cue. The fake Asterisk moves its audio to and from the external
media channel bridged with it.
"""

from __future__ import annotations

import asyncio
import math
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from vocals.simulator.caller import QueueSource

Outcome = Literal["answer", "busy", "no-answer", "unreachable", "rejected"]


def tone(freq_hz: float, seconds: float, amplitude: int = 8000) -> bytes:
    """slin 8 kHz little-endian sine, handy as recognisable caller audio."""
    n = int(8000 * seconds)
    return struct.pack(
        f"<{n}h", *(int(amplitude * math.sin(2 * math.pi * freq_hz * i / 8000)) for i in range(n))
    )


@dataclass
class IvrMenu:
    """A far end that is an automated menu: it says `prompt` when answered and, each time the
    keys it got since its last answer spell an entry of `options` ("2", "4321#"), says that
    entry's audio (what the choice does). A key is heard at its end, as Asterisk reports it."""

    prompt: bytes
    options: dict[str, bytes]
    # A menu takes a moment to start its next prompt after a choice (real seconds).
    answer_after_s: float = 0.5
    entered: str = ""

    def key(self, far: ScriptedCaller, digit: str) -> None:
        self.entered += digit
        answer = self.options.get(self.entered)
        if answer is not None:
            self.entered = ""
            asyncio.get_running_loop().call_later(self.answer_after_s, far.play, answer)


@dataclass
class Callee:
    """How an outbound destination behaves when dialled.

    `outcome`: answer / busy (486, cause 17) / no-answer (rings until the originate timeout,
    cause 19) / unreachable (no SIP answer: cause 18 after timer B, 32 s) / rejected (declined:
    403, cause 21; Asterisk's Dial status then says NOANSWER, after the hangup request:
    captured with a PJSIP callee whose dialplan ran Hangup(21)). A busy or rejected callee
    with `ring_s=0` refuses at once, as over loopback: its channel is gone before the
    originate's answer, and only an app subscribed to the endpoint hears how it ended.
    With answer, AMD in the outbound context yields `amd_status`/`amd_cause` after `amd_s`.
    With `stasis_app`, the number loops back into this Asterisk: the callee is a channel that
    enters `Stasis(<stasis_app>)` and answers when that app answers it over ARI. With `ivr`,
    the callee is an automated menu answering the keys sent to the call (its prompt replaces
    the greeting).
    """

    outcome: Outcome = "answer"
    ring_s: float = 0.05
    amd_status: str = "HUMAN"
    amd_cause: str = "HUMAN-803-800"
    amd_s: float = 0.05
    hangup_after_s: float | None = None
    greeting: bytes = b""
    stasis_app: str | None = None
    ivr: IvrMenu | None = None


@dataclass
class ScriptedCaller:
    """One far party. Audio is slin 8 kHz LE; `received` holds what the app sent it."""

    channel_id: str
    number: str
    hangup_after_s: float | None = None
    received: bytearray = field(default_factory=bytearray)
    # When each received frame arrived (time.monotonic()), for play-out gaps.
    arrivals: list[float] = field(default_factory=list)
    source: QueueSource = field(default_factory=QueueSource)
    # Keys the far end heard (sent to its channel with ARI's `dtmf`), in order.
    dtmf_received: list[str] = field(default_factory=list)
    ivr: IvrMenu | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    ended_by: Literal["caller", "asterisk"] | None = None
    first_audio_at: float | None = None
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    _hangup: Callable[[ScriptedCaller], Awaitable[None]] | None = None
    _dtmf: Callable[[ScriptedCaller, str], Awaitable[None]] | None = None
    _audio_arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def play(self, pcm: bytes) -> None:
        """Queue audio for the call; it is sent in 20 ms frames at real time once bridged."""
        self.source.play(pcm)

    @property
    def received_ms(self) -> int:
        return len(self.received) // 16

    def hear(self, pcm: bytes, at: float | None = None) -> None:
        at = time.monotonic() if at is None else at
        if self.first_audio_at is None and any(pcm):
            self.first_audio_at = at
        self.received += pcm
        self.arrivals.append(at)
        self._audio_arrived.set()

    async def wait_received(self, ms: int, timeout_s: float = 10.0) -> None:
        """Until at least `ms` of audio reached the far end (or `TimeoutError`)."""
        deadline = time.monotonic() + timeout_s
        while self.received_ms < ms:
            self._audio_arrived.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{self.received_ms} ms received, wanted {ms}")
            try:
                await asyncio.wait_for(self._audio_arrived.wait(), remaining)
            except TimeoutError:
                continue

    async def wait_quiet(self, quiet_s: float = 0.3, timeout_s: float = 10.0) -> None:
        """Until no audio has reached the far end for `quiet_s` (the agent stopped talking)."""
        async with asyncio.timeout(timeout_s):
            while True:
                self._audio_arrived.clear()
                try:
                    await asyncio.wait_for(self._audio_arrived.wait(), quiet_s)
                except TimeoutError:
                    return

    def hear_key(self, digit: str) -> None:
        """A key sent to this party reached it (at the key's end)."""
        self.dtmf_received.append(digit)
        if self.ivr is not None:
            self.ivr.key(self, digit)

    async def press(self, digits: str) -> None:
        """Press DTMF digits (ChannelDtmfReceived on this channel, 0x03 on AudioSocket)."""
        if self._dtmf is None:
            raise RuntimeError("caller is not in a call")
        for digit in digits:
            await self._dtmf(self, digit)

    async def hangup(self) -> None:
        """The far end hangs up (SIP BYE)."""
        if self._hangup is not None and not self.ended.is_set():
            await self._hangup(self)

    async def wait_ended(self, timeout_s: float = 10.0) -> None:
        await asyncio.wait_for(self.ended.wait(), timeout_s)
