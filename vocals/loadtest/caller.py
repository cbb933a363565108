"""One simulated caller's behaviour in a load test: listen, speak, sometimes interrupt.

The caller waits for the agent's turn to end (no agent audio for `TURN_END_QUIET_S`), says
the next phrase, and measures from the last frame of its phrase leaving the phone to the first
agent frame arriving. Every `barge_in_every`-th turn it starts talking `BARGE_AFTER_S` into
the agent's reply instead, to measure how fast the agent stops.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from typing import Final, Protocol

from vocals.loadtest.measure import CallLog, Utterance
from vocals.simulator.caller import FRAME_BYTES

# The agent's turn is over once it has been quiet this long (longer than any gap between
# its sentences on a healthy server).
TURN_END_QUIET_S: Final = 0.6
# A barge-in starts this far into the agent's reply: clearly mid-sentence.
BARGE_AFTER_S: Final = 0.8
# Waiting longer than this for the agent to answer or connect is an error, not a latency.
ANSWER_TIMEOUT_S: Final = 10.0
CONNECT_TIMEOUT_S: Final = 15.0
_POLL_S: Final = 0.05


class CallHandle(Protocol):
    """A call as the load caller drives it, whatever the transport."""

    media_up: asyncio.Event
    ended: asyncio.Event

    async def hangup(self) -> None: ...


class Voice:
    """The caller's `AudioSource`: says one utterance at a time and logs when it does."""

    def __init__(self, log: CallLog) -> None:
        self._log = log
        self._pending = b""
        self._pos = 0
        self._current: Utterance | None = None
        self.done = asyncio.Event()
        self.done.set()

    def say(self, pcm: bytes, *, barge_in: bool) -> None:
        self._pending, self._pos = pcm, 0
        self._current = Utterance(onset=0.0, barge_in=barge_in)
        self.done.clear()

    def next_frame(self) -> bytes | None:
        current = self._current
        if current is None:
            return None
        now = time.monotonic()
        if self._pos == 0:
            current.onset = now
            self._log.utterances.append(current)
        frame = self._pending[self._pos : self._pos + FRAME_BYTES]
        self._pos += FRAME_BYTES
        if self._pos >= len(self._pending):
            current.end = now
            self._current = None
            self.done.set()
        if len(frame) < FRAME_BYTES:
            frame += bytes(FRAME_BYTES - len(frame))
        return frame


class Ear:
    """Agent frames as they reach the phone (the `on_frame_received` callback)."""

    def __init__(self, log: CallLog) -> None:
        self._frames = log.agent_frames
        self._arrived = asyncio.Event()

    def __call__(self, pcm: bytes, at: float) -> None:
        self._frames.append(at)
        self._arrived.set()

    @property
    def last(self) -> float | None:
        return self._frames[-1] if self._frames else None

    async def audio_after(self, t: float, timeout_s: float) -> float | None:
        """The first agent frame arriving after `t`, or None after `timeout_s`."""
        try:
            async with asyncio.timeout(timeout_s):
                while self.last is None or self.last <= t:
                    self._arrived.clear()
                    await self._arrived.wait()
        except TimeoutError:
            return None
        return self._frames[bisect.bisect_right(self._frames, t)]

    async def quiet(self, quiet_s: float) -> None:
        """Until no agent audio has arrived for `quiet_s`."""
        while True:
            last = self.last or 0.0
            remaining = last + quiet_s - time.monotonic()
            if remaining <= 0:
                return
            await asyncio.sleep(max(remaining, _POLL_S))


async def converse(
    call: CallHandle,
    voice: Voice,
    ear: Ear,
    log: CallLog,
    phrases: list[bytes],
    *,
    until: float,
    barge_in_every: int,
) -> None:
    """Drive one call until `until` (time.monotonic()), then hang up."""
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            await call.media_up.wait()
    except TimeoutError:
        log.error(time.monotonic(), "not connected")
        return
    log.connected_at = time.monotonic()
    reply_started = await ear.audio_after(log.connected_at, ANSWER_TIMEOUT_S)
    if reply_started is None:
        log.error(time.monotonic(), "no greeting")
    turn = 0
    while time.monotonic() < until and not call.ended.is_set():
        turn += 1
        barge = reply_started is not None and barge_in_every > 0 and turn % barge_in_every == 0
        if barge:
            assert reply_started is not None
            await asyncio.sleep(max(0.0, reply_started + BARGE_AFTER_S - time.monotonic()))
        else:
            await ear.quiet(TURN_END_QUIET_S)
        if time.monotonic() >= until or call.ended.is_set():
            break
        voice.say(phrases[turn % len(phrases)], barge_in=barge)
        await _wait_or_end(voice.done, call.ended)
        if call.ended.is_set():
            break
        stopped = time.monotonic()
        reply_started = await ear.audio_after(stopped, ANSWER_TIMEOUT_S)
        if reply_started is None and not call.ended.is_set():
            log.error(time.monotonic(), "no answer")
    if call.ended.is_set():
        log.error(time.monotonic(), "ended by the server")
    else:
        await call.hangup()


async def _wait_or_end(done: asyncio.Event, ended: asyncio.Event) -> None:
    waits = [asyncio.ensure_future(done.wait()), asyncio.ensure_future(ended.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
