"""A call that reaches us without Asterisk (Twilio, the browser) as a virtual channel: the
controller's steps after answer, over its ports.

`HandOff` is what a transport hands a connected call and its leg to. The controller's
`CallSession` does the same for an Asterisk call once its media is bridged; `VirtualChannel`
reproduces that part (AMD verdict -> voicemail policy or conversation; record at the end)
over the same `ari_app.ports` (Conversations, CallLedger, AgentDirectory), so such a call is
the same call with the same pipeline and the same record.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Final, Protocol

import structlog

from ari_app.admission import Admission
from ari_app.call import Call, CallStatus, Direction, InvalidTransition
from ari_app.call_events import CallAnnouncer
from ari_app.ports import AgentDirectory, AgentRoute, CallEventSink, CallLedger, Conversations
from ari_app.recording import ActiveRecording, CallRecordings
from media.leg import MediaLeg
from pipeline.agent import VoicemailAction
from pipeline.call_control import CallControl, TransferMode
from pipeline.dtmf_tools import DtmfPort
from pipeline.records import CallOutcome, CallResult

log = structlog.get_logger(__name__)

# `call.amd_status` uses the controller's (Asterisk AMD's) vocabulary.
AMD_MACHINE: Final = "MACHINE"
AMD_HUMAN: Final = "HUMAN"


class HandOver(CallControl, Protocol):
    """A transport's transfers (blind): `target` once the call was handed to it."""

    @property
    def target(self) -> str | None: ...


class HandOff(Protocol):
    """Runs a connected call on its leg, with the transport's transfers and keys, if any."""

    async def __call__(
        self,
        call: Call,
        leg: MediaLeg,
        control: HandOver | None = None,
        dtmf: DtmfPort | None = None,
    ) -> None: ...


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
        """End every live call from Vocals' side (shutdown): each is hung up (at Twilio, say),
        its conversation ends and its record is written with the outcome `stopped`; returns
        once they are all written."""
        calls = list(self._live.items())
        self._stopping.update(call_id for call_id, _ in calls)
        await asyncio.gather(*(leg.hangup() for _, (leg, _) in calls), return_exceptions=True)
        for _, (_, done) in calls:
            await done.wait()

    async def __call__(
        self,
        call: Call,
        leg: MediaLeg,
        control: HandOver | None = None,
        dtmf: DtmfPort | None = None,
    ) -> None:
        done = asyncio.Event()
        self._live[call.id] = (leg, done)
        try:
            await self._run(call, leg, control, dtmf)
        finally:
            self._live.pop(call.id, None)
            self._stopping.discard(call.id)
            done.set()

    async def _run(
        self, call: Call, leg: MediaLeg, control: HandOver | None, dtmf: DtmfPort | None
    ) -> None:
        bound = log.bind(call_id=str(call.id), tenant_id=str(call.tenant_id))
        result: CallResult | None = None
        announcer = None if self._events is None else CallAnnouncer(self._events, call)
        if announcer is not None and call.direction is Direction.INBOUND:
            announcer.started()  # an outbound call was announced when it was placed
        recording: ActiveRecording | None = None
        try:
            route = await self._directory.route_for_agent(call.tenant_id, call.agent_id)
            if self._admission is not None:
                weight = route.local_weight if route is not None else 0.0
                self._admission.hold(call.id, local=weight)
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
                    result = await self._conversations.leave_voicemail(call, leg, policy.message)
            else:
                result = await self._conversations.converse(call, leg, control=control, dtmf=dtmf)
                call.outcome = result.outcome.value
                if control is not None and control.target is not None:
                    call.outcome = CallOutcome.TRANSFERRED.value
                    call.metadata["transferred_to"] = control.target
                    if announcer is not None:
                        announcer.transferred(control.target, TransferMode.BLIND)
                elif call.id in self._stopping and result.outcome is CallOutcome.CALLER_HUNG_UP:
                    # Its media closed because we hung up, not the caller.
                    call.outcome = CallOutcome.STOPPED.value
        except Exception as exc:
            call.error = call.error or str(exc)
            bound.exception("call failed")
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
