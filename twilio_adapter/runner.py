"""A Twilio call as a virtual channel (`ari_app.virtual_channel`): Twilio's AMD vocabulary,
the announcement of calls that never streamed, and the ledger that marks a record as Twilio's.
"""

from __future__ import annotations

import msgspec

from ari_app.call import Call
from ari_app.call_events import CallAnnouncer
from ari_app.ports import CallEventSink
from ari_app.store_adapters import call_record
from ari_app.virtual_channel import AMD_HUMAN, AMD_MACHINE
from pipeline.records import CallResult
from store.call_records import CallRecordWriter
from store.live_calls import LiveCallStore
from twilio_adapter.state import TwilioCallStore


def amd_status(answered_by: str) -> str:
    """Twilio's `AnsweredBy` as the controller's AMD status (fax is no person either)."""
    return AMD_MACHINE if answered_by.startswith("machine") or answered_by == "fax" else AMD_HUMAN


async def announce_unanswered(events: CallEventSink | None, call: Call) -> None:
    """`call.failed` for a call that ended without a stream (busy, no answer, refused)."""
    if events is not None:
        announcer = CallAnnouncer(events, call)
        announcer.finished(None)
        await announcer.drain()


class TwilioLedger:
    """`CallLedger` for Twilio calls: live state in Redis, the record written exactly once
    (a status callback and a stream may both try), marked as a Twilio call.

    Its webhooks and its stream may reach different processes, so a call names no owner until
    its stream runs: the process serving the stream (`owner`) then holds it, and a survivor
    adopts it if that process dies."""

    def __init__(
        self,
        live: LiveCallStore,
        records: CallRecordWriter,
        calls: TwilioCallStore,
        *,
        owner: str | None = None,
    ):
        self._live = live
        self._records = records
        self._calls = calls
        self._owner = owner

    async def save(self, call: Call) -> None:
        fields = {
            "status": call.status.value,
            "status_times": call.status_times,
            "direction": call.direction.value,
            "agent_id": str(call.agent_id),
            "from_number": call.from_number,
            "to_number": call.to_number,
            "transport": "twilio",
        }
        if await self._live.get(call.id) is None:
            await self._live.start(call.tenant_id, call.id, fields)
        else:
            await self._live.update(call.id, fields)

    async def hold(self, call: Call, *, channels: list[str], bridges: list[str]) -> None:
        """A Twilio call holds nothing in Asterisk; its stream is this process's from now."""
        if self._owner is not None:
            await self._live.take(call.id, self._owner)

    async def finish(self, call: Call, result: CallResult | None) -> None:
        if not await self._calls.claim_record(call.id):
            return
        record = msgspec.structs.replace(call_record(call, result), transport="twilio")
        await self._records.save(record)
        await self._live.end(call.tenant_id, call.id, owner=self._owner)
