"""`CallLedger` of browser calls: live state in Redis under this process's lease (the socket
lives here, so a survivor adopts the call if this process dies), the record marked `web`."""

from __future__ import annotations

from typing import Final

import msgspec

from ari_app.call import Call
from ari_app.store_adapters import call_record
from pipeline.records import CallResult
from store.call_records import CallRecordWriter
from store.live_calls import LiveCallStore

TRANSPORT: Final = "web"


class WebLedger:
    def __init__(self, live: LiveCallStore, records: CallRecordWriter) -> None:
        self._live = live
        self._records = records

    async def save(self, call: Call) -> None:
        fields = {
            "status": call.status.value,
            "status_times": call.status_times,
            "direction": call.direction.value,
            "agent_id": str(call.agent_id),
            "from_number": call.from_number,
            "to_number": call.to_number,
            "transport": TRANSPORT,
        }
        if await self._live.get(call.id) is None:
            await self._live.start(call.tenant_id, call.id, fields)
        else:
            await self._live.update(call.id, fields)

    async def hold(self, call: Call, *, channels: list[str], bridges: list[str]) -> None:
        """A browser call holds nothing in Asterisk."""

    async def finish(self, call: Call, result: CallResult | None) -> None:
        record = msgspec.structs.replace(call_record(call, result), transport=TRANSPORT)
        await self._records.save(record)
        await self._live.end(call.tenant_id, call.id)
