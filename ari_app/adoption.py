"""Adopting the calls of a process that died: a survivor finishes what the dead process left.

A process whose lease lapsed (see `store.process_leases`) still lists its live calls in Redis.
For each, one survivor (the one that wins the call's adoption lock) hangs up what is left of
the call in Asterisk, links its spooled recording, writes its record from the live state as
failed ("process lost") through the record writer (so the outbox protects it), announces its
end, and removes the live entry.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import msgspec
import structlog
from redis.asyncio import Redis

from ari_app.call import UNROUTED, Call, CallStatus, Direction
from ari_app.call_events import CallAnnouncer
from ari_app.client import AriClient
from ari_app.errors import AriError
from ari_app.metrics import CALLS_ADOPTED
from ari_app.ports import CallEventSink, CallEventType
from ari_app.recording import CallRecordings
from ari_app.store_adapters import call_record
from store.call_records import CallRecordWriter
from store.live_calls import LiveCallStore
from store.models import CallRecord
from store.outbound_queue import OutboundQueue
from store.process_leases import (
    claim_adoption,
    forget_if_idle,
    lapsed_processes,
    owned_calls,
    process_calls_key,
)

log = structlog.get_logger(__name__)

PROCESS_LOST: Final = "process lost"
# Hang-up answers that mean the channel or bridge is already gone.
GONE_STATUSES: Final = frozenset({404, 422})


def _uuid(value: Any) -> uuid.UUID:
    return uuid.UUID(str(value))


def lost_call(call_id: uuid.UUID, state: dict[str, Any]) -> Call:
    """The call as its live state last showed it, ended now as failed: process lost."""
    call = Call(
        id=call_id,
        tenant_id=_uuid(state["tenant_id"]),
        agent_id=_uuid(state.get("agent_id", UNROUTED)),
        direction=Direction(state.get("direction", Direction.INBOUND.value)),
        from_number=state.get("from_number", ""),
        to_number=state.get("to_number", ""),
        status=CallStatus(state.get("status", CallStatus.QUEUED.value)),
        status_times=dict(state.get("status_times") or {}),
        channel_id=state.get("channel_id"),
    )
    if not call.finished:
        call.to(CallStatus.FAILED)
    call.error = PROCESS_LOST
    return call


def _announced_before(call: Call) -> list[CallEventType]:
    """The lifecycle events the dead process had announced (for the event sequence)."""
    seen: list[CallEventType] = ["call.started"]
    if call.time_of(CallStatus.ANSWERED) is not None:
        seen.append("call.answered")
    if call.time_of(CallStatus.VOICEMAIL) is not None:
        seen.append("voicemail.detected")
    return seen


class CallAdopter:
    """Finds dead processes' calls and finishes each exactly once across survivors."""

    def __init__(
        self,
        redis: Redis,
        records: CallRecordWriter,
        *,
        process_id: str,
        ari: AriClient | None = None,
        holds_channel: Callable[[str], bool] = lambda channel_id: False,
        recordings: CallRecordings | None = None,
        events: CallEventSink | None = None,
    ) -> None:
        """`holds_channel` says which channels this process's own calls use (a caller the
        dead process never answered may have been taken up here as a new call)."""
        self._redis = redis
        self._live = LiveCallStore(redis)
        self._queue = OutboundQueue(redis)
        self._records = records
        self._process_id = process_id
        self._ari = ari
        self._holds_channel = holds_channel
        self._recordings = recordings
        self._events = events

    async def run(self, every_s: float) -> None:
        """Adopt now, then every `every_s` (another process may die while this one runs)."""
        while True:
            try:
                await self.adopt_lapsed()
            except Exception as exc:  # Redis down: the next round tries again
                log.warning("adopting lost calls failed; retrying", error=repr(exc))
            await asyncio.sleep(every_s)

    async def adopt_lapsed(self) -> int:
        """Adopt every call of every process whose lease lapsed; returns how many."""
        adopted = 0
        for owner in await lapsed_processes(self._redis, exclude=self._process_id):
            for call_id in await owned_calls(self._redis, owner):
                if not await claim_adoption(self._redis, call_id, owner, self._process_id):
                    continue
                try:
                    adopted += await self._adopt(owner, call_id)
                except Exception:
                    # This call is tried again once its lock runs out; the others go on.
                    log.exception("adopting a call failed", call_id=str(call_id), owner=owner)
            await forget_if_idle(self._redis, owner)
        return adopted

    async def _adopt(self, owner: str, call_id: uuid.UUID) -> int:
        state = await self._live.get(call_id)
        if state is None or "tenant_id" not in state or state.get("owner") != owner:
            # Ended (or expired, or dialled again by another process) since the owner listed
            # it: nothing of it is left to finish.
            await self._redis.srem(process_calls_key(owner), str(call_id))
            return 0
        call = lost_call(call_id, state)
        if call.direction is Direction.OUTBOUND and await self._queue.pending(call_id):
            # Killed before the job was acked: the queue dials it again under the same id.
            await self._live.end(call.tenant_id, call_id, owner=owner)
            return 0
        bound = log.bind(call_id=str(call_id), tenant_id=str(call.tenant_id), owner=owner)
        await self._release_asterisk(state, bound)
        call.recording_path = await self._link_recording(call, bound)
        record = self._record(call, await self._live.history(call_id))
        if state.get("transport") == "twilio":
            # Its stream died with the process; Twilio ended the call, nothing to hang up.
            record = msgspec.structs.replace(record, transport="twilio")
        await self._records.save(record)
        await self._announce(call)
        await self._live.end(call.tenant_id, call_id, owner=owner)
        CALLS_ADOPTED.inc()
        bound.info("adopted a call of a dead process", status=call.status.value)
        return 1

    async def _release_asterisk(self, state: dict[str, Any], bound: Any) -> None:
        """Hang up the call's channels and destroy its bridges (already gone is fine)."""
        if self._ari is None:
            return
        ari = self._ari
        channels = dict.fromkeys([state.get("channel_id"), *state.get("channels", [])])
        steps = [ari.hangup(c) for c in channels if c and not self._holds_channel(c)]
        steps += [ari.destroy_bridge(b) for b in state.get("bridges", [])]
        for outcome in await asyncio.gather(*steps, return_exceptions=True):
            if isinstance(outcome, AriError) and outcome.status in GONE_STATUSES:
                continue
            if isinstance(outcome, BaseException):
                bound.warning("releasing a lost call in Asterisk failed", error=str(outcome))

    async def _link_recording(self, call: Call, bound: Any) -> str | None:
        """Store the call's spooled recording (the dead recorder wrote it up to its end)."""
        if self._recordings is None:
            return None
        spooled = self._recordings.spool_dir / str(call.tenant_id) / f"{call.id}.wav"
        if not await asyncio.to_thread(Path.exists, spooled):
            return None
        try:
            return await self._recordings.store_spooled(spooled, call.tenant_id, call.id)
        except OSError as exc:
            bound.warning("linking a lost call's recording failed", error=str(exc))
            return None

    @staticmethod
    def _record(call: Call, history: list[dict[str, Any]]) -> CallRecord:
        """The record, with what the live history kept of the transcript and turns."""

        def entries(kind: str) -> list[dict[str, Any]]:
            return [
                {k: v for k, v in e.items() if k != "type"}
                for e in history
                if e.get("type") == kind
            ]

        return msgspec.structs.replace(
            call_record(call, None), transcript=entries("transcript"), turns=entries("turn")
        )

    async def _announce(self, call: Call) -> None:
        if self._events is None:
            return
        announcer = CallAnnouncer(self._events, call, announced=_announced_before(call))
        announcer.finished(None)
        await announcer.drain()
