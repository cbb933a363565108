"""The interface the pipeline declares and the call controller provides for state and records.

The pipeline never imports store/ or a transport: the controller hands it a `CallSink` that
writes live state to Redis and the final record to PostgreSQL (or the outbox).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

import structlog

from pipeline.records import CallEvent, CallResult, LiveState, TranscriptEntry, TurnMetrics

log = structlog.get_logger(__name__)


class CallSink(Protocol):
    """Receives a call's live state and final record.

    Calls arrive in order from one background task, so a slow sink never stalls audio; an
    exception is logged and does not end the call. `finish` is called exactly once, last.
    """

    async def on_transcript(self, entry: TranscriptEntry) -> None:
        """A caller or agent utterance (agent: what the caller heard)."""

    async def on_turn(self, metrics: TurnMetrics) -> None:
        """A finished turn's timestamps."""

    async def on_event(self, event: CallEvent) -> None:
        """STT lifecycle, provider failure, barge-in, voicemail, end of call ..."""

    async def save_live_state(self, state: LiveState) -> None:
        """The call's current snapshot (history, state, timings)."""

    async def finish(self, result: CallResult) -> None:
        """The final record: persist it (or queue it in the outbox)."""


class MemorySink:
    """A `CallSink` that keeps everything in lists (tests, benchmarks, `vocals demo`)."""

    def __init__(self) -> None:
        self.transcript: list[TranscriptEntry] = []
        self.turns: list[TurnMetrics] = []
        self.events: list[CallEvent] = []
        self.live_states: list[LiveState] = []
        self.result: CallResult | None = None

    async def on_transcript(self, entry: TranscriptEntry) -> None:
        self.transcript.append(entry)

    async def on_turn(self, metrics: TurnMetrics) -> None:
        self.turns.append(metrics)

    async def on_event(self, event: CallEvent) -> None:
        self.events.append(event)

    async def save_live_state(self, state: LiveState) -> None:
        self.live_states.append(state)

    async def finish(self, result: CallResult) -> None:
        self.result = result


class SinkDispatcher:
    """Delivers sink calls in order from one background task; failures are logged."""

    def __init__(self, sink: CallSink, *, call_id: str, tenant_id: str) -> None:
        self._sink = sink
        self._log = log.bind(call_id=call_id, tenant_id=tenant_id)
        self._queue: asyncio.Queue[Callable[[], Awaitable[None]] | None] = asyncio.Queue()
        self._task = asyncio.create_task(self._deliver())

    def post(self, call: Callable[[], Awaitable[None]]) -> None:
        """Queue one sink call (e.g. ``lambda: sink.on_turn(metrics)``)."""
        self._queue.put_nowait(call)

    def transcript(self, entry: TranscriptEntry) -> None:
        self.post(lambda: self._sink.on_transcript(entry))

    def turn(self, metrics: TurnMetrics) -> None:
        self.post(lambda: self._sink.on_turn(metrics))

    def event(self, event: CallEvent) -> None:
        self.post(lambda: self._sink.on_event(event))

    def live_state(self, state: LiveState) -> None:
        self.post(lambda: self._sink.save_live_state(state))

    async def finish(self, result: CallResult) -> bool:
        """Deliver everything queued, then the final record; False when the sink failed it
        (logged; the caller of `CallPipeline.run` still gets the record to retry with)."""
        self._queue.put_nowait(None)
        await self._task
        try:
            await self._sink.finish(result)
        except Exception:
            self._log.exception("sink_finish_failed")
            return False
        return True

    async def _deliver(self) -> None:
        while (call := await self._queue.get()) is not None:
            try:
                await call()
            except Exception:
                self._log.exception("sink_call_failed")
