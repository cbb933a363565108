"""The caller's script: hear the greeting, ask twice, interrupt the third answer, say goodbye.

Every step waits on what the caller hears (bounded); a step that times out ends the script
with the reason, and the call is still measured and cleaned up.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any, Final

from vocals.demo import CALLER_SCRIPT, GOODBYE_AGAIN, INTERRUPT_AFTER_S, Ear
from vocals.selftest.line import CallerHalf, CallerLine

# The caller's phrases (the demo caller's, so one cache of synthesized speech serves both).
PHRASES: Final = CALLER_SCRIPT + GOODBYE_AGAIN
# How long the caller waits for the agent to answer a phrase (or to greet).
REPLY_TIMEOUT_S: Final = 20.0
# How long after its last words the caller waits for the agent to hang up, before saying
# goodbye again (and, after the last goodbye, hanging up itself).
HANGUP_WAIT_S: Final = 4.0


@dataclass
class Said:
    """One caller phrase: what it was and when it went out (time.monotonic())."""

    label: str
    start: float
    end: float


@dataclass
class Timeline:
    """What happened when, for the measurements; `stopped` says why the script ended early."""

    answered_at: float | None = None
    said: list[Said] = field(default_factory=list)
    interruption: Said | None = None
    stopped: str | None = None


class EarTap:
    """The caller leg's tap: what arrives is what the caller hears, what leaves it says."""

    def __init__(self, ear: Ear) -> None:
        self._ear = ear

    def inbound(self, frame: bytes) -> None:
        self._ear.on_frame(frame, time.monotonic())

    def outbound(self, frame: bytes) -> None:
        self._ear.said.append((time.monotonic(), frame))


async def converse(
    line: CallerLine, caller: CallerHalf, ear: Ear, phrases: list[bytes], timeline: Timeline
) -> None:
    """Run the script; a step that does not happen in time is noted in `timeline.stopped`."""
    try:
        await _converse(line, caller, ear, phrases, timeline)
    except _CallOver:
        timeline.stopped = timeline.stopped or "the call ended before the script was done"


class _CallOver(Exception):
    pass


async def _until(
    caller: CallerHalf, wait: asyncio.Future[None], what: str, timeline: Timeline
) -> None:
    """Wait for `wait` within REPLY_TIMEOUT_S; the call ending or the timeout stops the script."""
    ended: asyncio.Future[Any] = asyncio.ensure_future(caller.ended.wait())
    try:
        done, _ = await asyncio.wait(
            {wait, ended}, timeout=REPLY_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        wait.cancel()
        ended.cancel()
    if wait in done:
        return
    timeline.stopped = (
        f"{what} (the call ended)" if ended in done else f"{what} within {REPLY_TIMEOUT_S:.0f} s"
    )
    raise _CallOver


async def _say(line: CallerLine, label: str, pcm: bytes, timeline: Timeline) -> Said:
    start, end = await line.say(pcm)
    said = Said(label, start, end)
    timeline.said.append(said)
    return said


async def _converse(
    line: CallerLine, caller: CallerHalf, ear: Ear, phrases: list[bytes], timeline: Timeline
) -> None:
    hours, price, booking, location, *goodbyes = phrases
    f = asyncio.ensure_future
    await _until(caller, f(ear.agent_starts(0.0)), "no greeting was heard", timeline)
    for label, phrase in (("opening hours", hours), ("price", price), ("booking", booking)):
        await _until(caller, f(ear.agent_done()), "the agent never stopped talking", timeline)
        said = await _say(line, label, phrase, timeline)
        await _until(caller, f(ear.agent_starts(said.end)), f"no answer to '{label}'", timeline)
    await asyncio.sleep(INTERRUPT_AFTER_S)
    timeline.interruption = await _say(line, "interruption: location", location, timeline)
    await _until(
        caller,
        f(ear.agent_starts(timeline.interruption.end)),
        "no answer after the interruption",
        timeline,
    )
    for index, goodbye in enumerate(goodbyes):
        await _until(caller, f(ear.agent_done()), "the agent never stopped talking", timeline)
        said = await _say(line, "goodbye" if index == 0 else "goodbye again", goodbye, timeline)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_quiet_or_ended(caller, ear, said.end), REPLY_TIMEOUT_S)
        if caller.ended.is_set():
            return


async def _quiet_or_ended(caller: CallerHalf, ear: Ear, since: float) -> None:
    """Until the call ends, or the agent has been quiet HANGUP_WAIT_S after `since`."""
    while not caller.ended.is_set():
        quiet_for = time.monotonic() - max(since, ear.last_speech_at)
        if quiet_for >= HANGUP_WAIT_S:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(caller.ended.wait(), HANGUP_WAIT_S - quiet_for)
