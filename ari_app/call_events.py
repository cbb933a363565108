"""One call's lifecycle events: each type at most once, published in the order they happened.

The call never waits on the sink: events go to a queue that one task drains, retrying a sink
that fails (safe, since event ids are derived from the call id and the type, so a repeat is
recognised downstream). `drain()` at teardown waits, boundedly, until everything is out.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Final

import structlog

from ari_app.call import Call, CallStatus
from ari_app.ports import CallEvent, CallEventSink, CallEventType, CallLedger
from ari_app.tasks import cancel_and_wait
from pipeline.records import CallOutcome, CallResult

log = structlog.get_logger(__name__)

# A sink that fails (PostgreSQL or Redis down) is tried again this many times, this far apart;
# then the event is logged as lost rather than holding the call's teardown.
PUBLISH_ATTEMPTS: Final = 4
RETRY_DELAY_S: Final = 0.5
# Teardown waits this long at most for the call's events to be out.
DRAIN_TIMEOUT_S: Final = 5.0
# `call.ended` carries the last utterances, cut to this many characters.
SUMMARY_CHARS: Final = 500
SUMMARY_ENTRIES: Final = 6
FAILED_STATUSES: Final = frozenset({CallStatus.FAILED, CallStatus.BUSY, CallStatus.NO_ANSWER})
# Namespace of the event ids: uuid5(namespace, f"{call_id}:{type}").
EVENT_NAMESPACE: Final = uuid.UUID("6f0b7f52-2b3c-4c59-9a55-0e4f1f7c2d11")


def event_id(call_id: uuid.UUID, event_type: CallEventType) -> uuid.UUID:
    """The id of a call's event of one type: stable across retries and processes."""
    return uuid.uuid5(EVENT_NAMESPACE, f"{call_id}:{event_type}")


async def record_never_dialled(
    call: Call, ledger: CallLedger, events: CallEventSink | None
) -> None:
    """Record a call that never got through, not dialled or refused (`call.error` says why),
    and announce `call.failed`."""
    call.to(CallStatus.FAILED)
    await ledger.finish(call, None)
    if events is not None:
        announcer = CallAnnouncer(events, call)
        announcer.finished(None)
        await announcer.drain()


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()


def transcript_summary(result: CallResult | None) -> dict[str, Any]:
    """Turn counts and the call's last few utterances as `role: text` lines."""
    entries = [] if result is None else list(result.transcript)
    lines = [f"{e.role}: {e.text}" for e in entries[-SUMMARY_ENTRIES:] if e.text]
    text = "\n".join(lines)
    if len(text) > SUMMARY_CHARS:
        text = "…" + text[-(SUMMARY_CHARS - 1) :]
    return {
        "caller_utterances": sum(1 for e in entries if e.role == "caller"),
        "agent_utterances": sum(1 for e in entries if e.role == "agent"),
        "last_lines": text,
    }


class CallAnnouncer:
    """Publishes one call's lifecycle to a `CallEventSink` (ARI and Twilio calls alike)."""

    def __init__(
        self, sink: CallEventSink, call: Call, *, announced: Iterable[CallEventType] = ()
    ) -> None:
        """`announced`: events another process already published for this call (an adopted
        call's), which are not repeated and which the sequence numbers continue from."""
        self._sink = sink
        self._call = call
        self._announced: set[CallEventType] = set(announced)
        self._queue: asyncio.Queue[CallEvent] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._sequence = len(self._announced)

    def started(self) -> None:
        self._announce("call.started", {})

    def answered(self) -> None:
        self._announce(
            "call.answered", {"answered_at": _iso(self._call.time_of(CallStatus.ANSWERED))}
        )

    def transferred(self, target: str, mode: str) -> None:
        """The agent handed the caller to one of its transfer destinations."""
        self._announce("call.transferred", {"target": target, "mode": mode})

    def voicemail(self) -> None:
        call = self._call
        self._announce(
            "voicemail.detected", {"amd_status": call.amd_status, "amd_cause": call.amd_cause}
        )

    def finished(self, result: CallResult | None) -> None:
        """The call is over (final status set): `call.failed` if it never got through (busy,
        no answer, failed before an answer), else `call.ended` with outcome, duration and
        transcript summary."""
        call = self._call
        if result is not None and result.outcome is CallOutcome.VOICEMAIL:
            self.voicemail()
        answered = call.time_of(CallStatus.ANSWERED)
        ended = call.time_of(call.status)
        details: dict[str, Any] = {
            "outcome": call.outcome,
            "error": call.error or (result.error_reason if result is not None else None),
            "hangup_cause": call.hangup_cause,
        }
        if call.status in FAILED_STATUSES and answered is None:
            self._announce("call.failed", details)
            return
        duration = None if answered is None or ended is None else int((ended - answered) * 1000)
        self._announce(
            "call.ended",
            {
                **details,
                "duration_ms": duration,
                "answered_at": _iso(answered),
                "ended_at": _iso(ended),
                "transcript_summary": transcript_summary(result),
                "recorded": call.recording_path is not None,
            },
        )

    async def drain(self, timeout_s: float = DRAIN_TIMEOUT_S) -> None:
        """Wait until every announced event is published (or given up), at most `timeout_s`."""
        task = self._task
        if task is None:
            return
        try:
            async with asyncio.timeout(timeout_s):
                await self._queue.join()
        except TimeoutError:
            log.warning("call events not all published", call_id=str(self._call.id))
        await cancel_and_wait(task)
        self._task = None

    def _announce(self, event_type: CallEventType, details: dict[str, Any]) -> None:
        if event_type in self._announced:
            return
        self._announced.add(event_type)
        call = self._call
        self._sequence += 1
        payload = {
            "call_id": str(call.id),
            "agent_id": str(call.agent_id),
            "direction": call.direction.value,
            "from_number": call.from_number,
            "to_number": call.to_number,
            "status": call.status.value,
            "sequence": self._sequence,
            "occurred_at": _iso(time.time()),
            **details,
        }
        event = CallEvent(
            id=event_id(call.id, event_type),
            tenant_id=call.tenant_id,
            type=event_type,
            payload=payload,
        )
        self._queue.put_nowait(event)
        if self._task is None:
            self._task = asyncio.create_task(self._publish_all(), name=f"call-events-{call.id}")

    async def _publish_all(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                await self._publish(event)
            finally:
                self._queue.task_done()

    async def _publish(self, event: CallEvent) -> None:
        for attempt in range(1, PUBLISH_ATTEMPTS + 1):
            try:
                await self._sink.publish(event)
                return
            except Exception as exc:
                if attempt == PUBLISH_ATTEMPTS:
                    log.error(
                        "call event lost",
                        call_id=str(self._call.id),
                        event_type=event.type,
                        error=repr(exc),
                    )
                    return
                log.warning("publishing a call event failed, retrying", error=repr(exc))
                await asyncio.sleep(RETRY_DELAY_S * attempt)
