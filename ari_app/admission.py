"""Admission control: how many calls this process carries, and the ones it refuses.

One `Admission` is shared by every way a call reaches the process (Asterisk inbound, the
outbound dispatcher, Twilio's voice webhook), so the count covers them together. A call
beyond a limit is refused before it costs anything (not answered, not dialled) instead of
degrading every live call.

Two limits: `max_calls` for all calls, and `max_local_calls` for calls whose agent runs a
CPU-bound model on this machine (offline recognizer or voice, Silero VAD), which cost far
more. A local call counts by its weight against the second: 1 for the offline defaults,
more for a dearer model (`local_call_weight`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Final

# What a refused call's record and `call.failed` event give as its reason.
OVER_CAPACITY: Final = "over capacity"
# Measured on a 2-core machine (issue 17): the load-test providers carried 80 calls with every
# reply on time (40 per core); cloud providers cost the process as little.
CALLS_PER_CORE: Final = 40
# The offline defaults (Whisper tiny.en, the scripted dialogue, Piper; issue 17) on a 2-core
# machine: 48 calls with every reply heard, p99 1.4 s, the event loop late by 24 ms at most;
# 40 calls p99 1.1 s and 8 ms. 20 per core keeps the 2.5 s p99 and 20 ms lag.
LOCAL_CALLS_PER_CORE: Final = 20
# How many offline-default calls one call of a dearer local recognizer counts for. PocketSphinx
# (with the agent's language model, 5000 sounds a frame) took the workers 103 % of a core at
# 16 calls where Whisper took 47 %, and 16 calls (8 a core) was its limit: 20 / 8.
LOCAL_CALL_WEIGHTS: Final = {"pocketsphinx": 2.5}
# What a call refused because the process is stopping gives as its reason.
SHUTTING_DOWN: Final = "shutting down"
# What a call refused because the process's local models are still loading gives.
WARMING_UP: Final = "warming up"
# A Twilio call admitted at its voice webhook holds its slot this long until its media stream
# connects (ringing of an outbound call included); one that never connects frees it then.
PENDING_S: Final = 90.0


def default_max_calls(cores: int | None = None) -> int:
    """All calls of one process: `CALLS_PER_CORE` per core."""
    return max(1, (cores or os.cpu_count() or 1) * CALLS_PER_CORE)


def default_max_local_calls(cores: int | None = None) -> int:
    """Calls on local models of one process: `LOCAL_CALLS_PER_CORE` per core."""
    return max(1, (cores or os.cpu_count() or 1) * LOCAL_CALLS_PER_CORE)


def local_call_weight(recognizer: str) -> float:
    """What one local-model call with `recognizer` counts for against `max_local_calls`."""
    return LOCAL_CALL_WEIGHTS.get(recognizer, 1.0)


@dataclass(slots=True)
class _Slot:
    local: float  # its weight against the local limit; 0: no local model
    expires_at: float | None  # None: held until released


class Admission:
    """Counts this process's calls against its limits. `refused` counts refusals by the limit
    reached ("calls", "local_calls"; the controller adds "draining")."""

    def __init__(self, max_calls: int, max_local_calls: int | None = None) -> None:
        self.max_calls = max_calls
        self.max_local_calls = max_calls if max_local_calls is None else max_local_calls
        self.refused: Counter[str] = Counter()
        self.closed = False
        self._slots: dict[uuid.UUID, _Slot] = {}
        self._warm = asyncio.Event()
        self._warm.set()

    def close(self) -> None:
        """Admit nothing more: the process is draining before it stops."""
        self.closed = True

    @property
    def warming(self) -> bool:
        """True from `warming_up()` until `warmed()`: no call is admitted meanwhile."""
        return not self._warm.is_set()

    def warming_up(self) -> None:
        """Admit nothing until `warmed()`: the models calls need are still loading."""
        self._warm.clear()

    def warmed(self) -> None:
        self._warm.set()

    async def until_warm(self, timeout_s: float | None) -> bool:
        """Wait up to `timeout_s` (None: as long as it takes) for `warmed()`; True if warm."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._warm.wait()
        return not self.warming

    @property
    def live(self) -> int:
        self._expire()
        return len(self._slots)

    @property
    def live_local(self) -> float:
        """Live local-model calls, each by its weight."""
        self._expire()
        return sum(slot.local for slot in self._slots.values())

    def has_room(self) -> bool:
        """True while one more call (of any kind) could be admitted."""
        return not self.closed and not self.warming and self.live < self.max_calls

    def admit(
        self, call_id: uuid.UUID, *, local: float, pending_s: float | None = None
    ) -> str | None:
        """Take a slot for `call_id` (`local`: its weight against the local limit, 0 for a
        call without local models); None when admitted, else why it is refused (counted).
        With `pending_s` the slot lapses then unless `hold` confirms it."""
        if call_id in self._slots:
            return None
        if self.closed:
            self.refused["draining"] += 1
            return SHUTTING_DOWN
        if self.warming:
            self.refused["warming"] += 1
            return WARMING_UP
        if self.live >= self.max_calls:
            self.refused["calls"] += 1
            return OVER_CAPACITY
        # A process with no local call takes one whatever its weight: a limit below a dear
        # recognizer's weight must not refuse every call of its agents.
        if local and self.live_local and self.live_local + local > self.max_local_calls:
            self.refused["local_calls"] += 1
            return OVER_CAPACITY
        expires = None if pending_s is None else time.monotonic() + pending_s
        self._slots[call_id] = _Slot(local, expires)
        return None

    def hold(self, call_id: uuid.UUID, *, local: float = 0.0) -> None:
        """`call_id` is live here until released: its pending slot no longer lapses, or, not
        admitted here (a Twilio stream whose webhook another process answered, which cannot
        be refused any more), it takes one anyway."""
        slot = self._slots.get(call_id)
        if slot is None:
            self._slots[call_id] = _Slot(local, None)
        else:
            slot.expires_at = None

    def release(self, call_id: uuid.UUID) -> None:
        self._slots.pop(call_id, None)

    def stats(self) -> dict[str, object]:
        """For /healthz."""
        return {
            "live_calls": self.live,
            "live_local_calls": self.live_local,
            "max_calls": self.max_calls,
            "max_local_calls": self.max_local_calls,
            "refused": dict(self.refused),
            "warming": self.warming,
        }

    def _expire(self) -> None:
        now = time.monotonic()
        lapsed = [
            k for k, s in self._slots.items() if s.expires_at is not None and s.expires_at < now
        ]
        for call_id in lapsed:
            del self._slots[call_id]
