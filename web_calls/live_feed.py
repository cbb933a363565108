"""What the browser sees of its call as it happens: a `CallSink` that passes everything to
the store's sink and copies the transcript and each turn's latencies to the socket."""

from __future__ import annotations

from ari_app.record_format import stage_latencies
from pipeline.records import CallEvent, CallResult, LiveState, TranscriptEntry, TurnMetrics
from pipeline.sink import CallSink
from web_calls.leg import WebLeg
from web_calls.protocol import server_message


class LiveFeedSink:
    def __init__(self, inner: CallSink, leg: WebLeg) -> None:
        self._inner = inner
        self._leg = leg

    async def on_transcript(self, entry: TranscriptEntry) -> None:
        self._leg.notify(
            server_message(
                "transcript", role=entry.role, text=entry.text, interrupted=entry.interrupted
            )
        )
        await self._inner.on_transcript(entry)

    async def on_turn(self, metrics: TurnMetrics) -> None:
        self._leg.notify(
            server_message("turn", index=metrics.index, latency=stage_latencies(metrics))
        )
        await self._inner.on_turn(metrics)

    async def on_event(self, event: CallEvent) -> None:
        await self._inner.on_event(event)

    async def save_live_state(self, state: LiveState) -> None:
        await self._inner.save_live_state(state)

    async def finish(self, result: CallResult) -> None:
        await self._inner.finish(result)
