"""Outbound calls of agents whose number is a Twilio number, placed through Twilio's API.

The call is dialled with answering-machine detection running asynchronously: the stream opens
as soon as the callee answers and waits for `AnsweredBy` (machine_* -> the agent's voicemail
policy, human -> the conversation; see `stream.py`). Progress and the outcome of unanswered
calls arrive as status callbacks (`routes.py`). A campaign's call first waits for the
campaign's dial slot, as on a trunk (its concurrency is the campaign runner's).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Final

import asyncpg
import structlog
from redis.asyncio import Redis

from ari_app.call import Call, CallStatus
from ari_app.call_events import CallAnnouncer, record_never_dialled
from ari_app.outbound import CLAIM_LEASE_S, queued_call
from ari_app.ports import CallEventSink, CallLedger
from store.call_records import CallRecordWriter
from store.live_calls import LiveCallStore
from store.outbound_queue import OutboundJob, OutboundQueue, campaign_pace_key
from store.secrets import SecretBox
from twilio_adapter.accounts import TwilioAccounts
from twilio_adapter.rest import TwilioApiError, TwilioRest
from twilio_adapter.runner import TwilioLedger
from twilio_adapter.state import TwilioCall, TwilioCallStore
from twilio_adapter.urls import TwilioUrls

log = structlog.get_logger(__name__)

# DetectMessageEnd reports a machine once its greeting ended (at the beep): the moment a
# voicemail message should start.
MACHINE_DETECTION: Final = "DetectMessageEnd"
RING_TIMEOUT_S: Final = 30


class TwilioOutbound:
    """Places queued outbound calls through the tenant's Twilio account."""

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        redis: Redis,
        box: SecretBox,
        public_url: str,
        rest: TwilioRest,
        ledger: CallLedger | None = None,
        events: CallEventSink | None = None,
    ) -> None:
        self._events = events
        self._accounts = TwilioAccounts(pool, redis, box)
        self._calls = TwilioCallStore(redis)
        self._urls = TwilioUrls(public_url)
        self._rest = rest
        self._queue = OutboundQueue(redis)
        self._ledger = ledger or TwilioLedger(
            LiveCallStore(redis), CallRecordWriter(pool, redis), self._calls
        )

    async def caller_id(self, tenant_id: uuid.UUID, agent_id: uuid.UUID) -> str | None:
        """The agent's Twilio number, or None when its calls do not go through Twilio."""
        return await self._accounts.agent_number(tenant_id, agent_id)

    async def handles(self, job: OutboundJob) -> bool:
        """True when the job's agent has a Twilio number (so Twilio places the call), unless
        the caller chose a SIP trunk for this call: then the trunk dials it."""
        if job.trunk_id is not None:
            return False
        return await self.caller_id(job.tenant_id, job.agent_id) is not None

    async def place(self, job: OutboundJob) -> Call:
        """Ask Twilio to dial the job; a refusal is recorded as a failed call."""
        call = queued_call(job)
        creds = await self._accounts.for_tenant(job.tenant_id)
        caller_id = job.from_number or await self.caller_id(job.tenant_id, job.agent_id)
        call.from_number = caller_id or ""
        if creds is None or caller_id is None:
            return await self._fail(call, "the agent has no Twilio number")
        await self._campaign_slot(job)
        call.to(CallStatus.DIALING)
        if self._events is not None:
            announcer = CallAnnouncer(self._events, call)
            announcer.started()
            await announcer.drain()
        # Stored before asking Twilio: its first callback can beat the API's answer.
        await self._calls.put(TwilioCall(call=call, amd=True))
        await self._ledger.save(call)
        status_url = self._urls.status(call.id)
        try:
            resource = await self._rest.create_call(
                creds,
                to=job.to_number,
                from_=caller_id,
                url=self._urls.voice(call.id),
                status_callback=status_url,
                machine_detection=MACHINE_DETECTION,
                async_amd_callback=status_url,
                ring_timeout_s=RING_TIMEOUT_S,
            )
        except TwilioApiError as exc:
            log.warning("Twilio refused the call", call_id=str(call.id), error=str(exc))
            return await self._fail(call, f"Twilio refused the call: {exc.message}")
        state = await self._calls.get(call.id) or TwilioCall(call=call, amd=True)
        state.call_sid = resource.sid
        state.call.metadata["twilio_call_sid"] = resource.sid
        await self._calls.put(state)
        log.info("Twilio call placed", call_id=str(call.id), call_sid=resource.sid)
        return state.call

    async def _campaign_slot(self, job: OutboundJob) -> None:
        """Wait for the campaign's next dial slot (its calls per second, held across
        processes as for a trunk's calls); the job's claim outlasts the wait."""
        if job.campaign_id is None or job.campaign_cps <= 0:
            return
        wait_s = await self._queue.pace(campaign_pace_key(job.campaign_id), job.campaign_cps)
        if wait_s > 0:
            await self._queue.renew(job.call_id, lease_s=wait_s + CLAIM_LEASE_S)
            await asyncio.sleep(wait_s)

    async def _fail(self, call: Call, reason: str) -> Call:
        call.error = reason
        await record_never_dialled(call, self._ledger, self._events)
        return call
