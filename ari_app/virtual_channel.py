"""A call that reaches us without Asterisk (Twilio, the browser) as a virtual channel: the
controller's steps after answer, over its ports.

`HandOff` is what a transport hands a connected call and its leg to. The controller's
`CallSession` does the same for an Asterisk call once its media is bridged; `VirtualChannel`
reproduces that part (AMD verdict -> voicemail policy or conversation; record at the end)
over the same `ari_app.ports` (Conversations, CallLedger, AgentDirectory), so such a call is
the same call with the same pipeline and the same record.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

import structlog

from ari_app.admission import Admission
from ari_app.call import Call, CallStatus, Direction, InvalidTransition
from ari_app.call_events import CallAnnouncer
from ari_app.ports import AgentDirectory, AgentRoute, CallEventSink, CallLedger, Conversations
from ari_app.recording import ActiveRecording, CallRecordings
from media.leg import MediaLeg
from pipeline.agent import VoicemailAction
from pipeline.records import CallResult

log = structlog.get_logger(__name__)

HandOff = Callable[[Call, MediaLeg], Awaitable[None]]
# `call.amd_status` uses the controller's (Asterisk AMD's) vocabulary.
AMD_MACHINE: Final = "MACHINE"
AMD_HUMAN: Final = "HUMAN"


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

    async def __call__(self, call: Call, leg: MediaLeg) -> None:
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
                result = await self._conversations.converse(call, leg)
                call.outcome = result.outcome.value
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
