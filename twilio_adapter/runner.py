"""A Twilio call as a virtual channel: the controller's steps after answer, over its ports.

`HandOff` is what the stream hands a connected call and its `TwilioLeg` to. The controller's
`CallSession` does the same for an Asterisk call once its media is bridged; `VirtualChannel`
reproduces that part (AMD verdict -> voicemail policy or conversation; record at the end)
over the same `ari_app.ports` (Conversations, CallLedger, AgentDirectory), so a Twilio call is
the same call with the same pipeline and the same record.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Final

import msgspec
import structlog

from ari_app.admission import Admission
from ari_app.call import Call, CallStatus, Direction, InvalidTransition
from ari_app.call_events import CallAnnouncer
from ari_app.ports import AgentDirectory, AgentRoute, CallEventSink, CallLedger, Conversations
from ari_app.recording import ActiveRecording, CallRecordings
from ari_app.store_adapters import call_record
from media.leg import MediaLeg
from pipeline.agent import VoicemailAction
from pipeline.call_control import TransferMode
from pipeline.records import CallOutcome, CallResult
from store.call_records import CallRecordWriter
from store.live_calls import LiveCallStore
from twilio_adapter.dtmf import InbandDtmf
from twilio_adapter.state import TwilioCallStore
from twilio_adapter.transfer import TwilioTransfer

log = structlog.get_logger(__name__)

# The call, its leg, and the transfers it may make (None without a Calls API client).
HandOff = Callable[[Call, MediaLeg, TwilioTransfer | None], Awaitable[None]]
# `call.amd_status` uses the controller's (Asterisk AMD's) vocabulary.
AMD_MACHINE: Final = "MACHINE"
AMD_HUMAN: Final = "HUMAN"


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


class VirtualChannel:
    """`HandOff` over the controller's ports: runs an answered call to its end, announcing
    its lifecycle to `events` and recording it (when its agent says so) like the controller
    does; the call holds its `admission` slot while it runs."""

    def __init__(
        self,
        conversations: Conversations,
        ledger: CallLedger,
        directory: AgentDirectory,
        events: CallEventSink | None = None,
        recordings: CallRecordings | None = None,
        admission: Admission | None = None,
    ) -> None:
        self._conversations = conversations
        self._ledger = ledger
        self._directory = directory
        self._events = events
        self._recordings = recordings
        self._admission = admission
        self._live: dict[uuid.UUID, tuple[MediaLeg, asyncio.Event]] = {}
        self._stopping: set[uuid.UUID] = set()

    @property
    def live_calls(self) -> int:
        """Calls this process is running now."""
        return len(self._live)

    async def stop_all(self) -> None:
        """End every live call from Vocals' side (shutdown): each is hung up at Twilio, its
        conversation ends and its record is written with the outcome `stopped`; returns once
        they are all written."""
        calls = list(self._live.items())
        self._stopping.update(call_id for call_id, _ in calls)
        await asyncio.gather(*(leg.hangup() for _, (leg, _) in calls), return_exceptions=True)
        for _, (_, done) in calls:
            await done.wait()

    async def __call__(self, call: Call, leg: MediaLeg, control: TwilioTransfer | None) -> None:
        done = asyncio.Event()
        self._live[call.id] = (leg, done)
        try:
            await self._run(call, leg, control)
        finally:
            self._live.pop(call.id, None)
            self._stopping.discard(call.id)
            done.set()

    async def _run(self, call: Call, leg: MediaLeg, control: TwilioTransfer | None) -> None:
        bound = log.bind(call_id=str(call.id), tenant_id=str(call.tenant_id))
        result: CallResult | None = None
        announcer = None if self._events is None else CallAnnouncer(self._events, call)
        if announcer is not None and call.direction is Direction.INBOUND:
            announcer.started()  # an outbound call was announced when it was placed
        recording: ActiveRecording | None = None
        try:
            route = await self._directory.route_for_agent(call.tenant_id, call.agent_id)
            if self._admission is not None:
                self._admission.hold(call.id, local=route is not None and route.local_models)
            recording = self._start_recording(call, route, leg)
            await self._status(call, CallStatus.ANSWERED)
            await self._ledger.hold(call, channels=[], bridges=[])  # after its live state began
            if announcer is not None:
                announcer.answered()
            if call.amd_status == AMD_MACHINE:
                await self._status(call, CallStatus.VOICEMAIL)
                if announcer is not None:
                    announcer.voicemail()
                call.outcome = "voicemail"
                policy = route.voicemail if route is not None else None
                if policy and policy.action is VoicemailAction.LEAVE_MESSAGE and policy.message:
                    await self._conversations.leave_voicemail(call, leg, policy.message)
            else:
                result = await self._conversations.converse(
                    call, leg, control=control, dtmf=InbandDtmf(leg)
                )
                call.outcome = result.outcome.value
                if control is not None and control.target is not None:
                    call.outcome = CallOutcome.TRANSFERRED.value
                    call.metadata["transferred_to"] = control.target
                    if announcer is not None:
                        announcer.transferred(control.target, TransferMode.BLIND)
                elif call.id in self._stopping and result.outcome is CallOutcome.CALLER_HUNG_UP:
                    # Its stream closed because we hung up, not the caller.
                    call.outcome = CallOutcome.STOPPED.value
        except Exception as exc:
            call.error = call.error or str(exc)
            bound.exception("Twilio call failed")
        finally:
            if self._admission is not None:
                self._admission.release(call.id)
            await leg.hangup()
            if recording is not None:
                await self._finish_recording(call, recording)
            if call.status in (CallStatus.ANSWERED, CallStatus.VOICEMAIL):
                await self._status(call, CallStatus.COMPLETED)
            try:
                await self._ledger.finish(call, result)
            except Exception:
                bound.exception("writing the call record failed")
            if announcer is not None:
                announcer.finished(result)
                await announcer.drain()

    def _start_recording(
        self, call: Call, route: AgentRoute | None, leg: MediaLeg
    ) -> ActiveRecording | None:
        if self._recordings is None or route is None or not route.recording:
            return None
        try:
            return self._recordings.start(call.tenant_id, call.id, leg)
        except (OSError, RuntimeError) as exc:
            log.error("recording could not start; the call goes on", call_id=str(call.id),
                      error=str(exc))  # fmt: skip
            return None

    async def _finish_recording(self, call: Call, recording: ActiveRecording) -> None:
        assert self._recordings is not None
        try:
            call.recording_path = await self._recordings.finish(recording)
        except Exception:
            log.exception("finishing the recording failed", call_id=str(call.id))

    async def _status(self, call: Call, status: CallStatus) -> None:
        try:
            call.to(status)
        except InvalidTransition as exc:
            log.warning("status change refused", call_id=str(call.id), error=str(exc))
            return
        await self._ledger.save(call)
