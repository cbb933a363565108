"""The do-not-call list, checked once more right before a queued call is dialled.

It is the dispatcher's first carrier: a job whose number went on the tenant's list while it
waited (the callee asked another agent to stop calling) is recorded as failed, with the
reason, instead of dialled. An admin's explicit override on the job lets it through.
"""

from __future__ import annotations

from typing import Final

import asyncpg

from ari_app.call import Call
from ari_app.call_events import record_never_dialled
from ari_app.outbound import queued_call
from ari_app.ports import CallEventSink, CallLedger
from store.outbound_queue import OutboundJob
from store.repositories.do_not_call import DoNotCallRepository

# The call record's error reason; campaigns read it as "skipped, on the list".
ON_THE_LIST: Final = "the number is on the do-not-call list"


class DoNotCallGate:
    """An `OutboundCarrier` that takes (and refuses) the jobs of listed numbers."""

    def __init__(
        self, pool: asyncpg.Pool, ledger: CallLedger, events: CallEventSink | None
    ) -> None:
        self._list = DoNotCallRepository(pool)
        self._ledger = ledger
        self._events = events

    async def handles(self, job: OutboundJob) -> bool:
        if job.override_do_not_call:
            return False
        return await self._list.find(job.tenant_id, job.to_number) is not None

    async def place(self, job: OutboundJob) -> Call:
        call = queued_call(job)
        call.error = ON_THE_LIST
        await record_never_dialled(call, self._ledger, self._events)
        return call
