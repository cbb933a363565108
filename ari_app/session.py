"""One call's life on one Asterisk: answer, media, bridge, conversation, teardown.

The controller routes ARI events here. Teardown runs exactly once, whatever ends the call
(caller hangup, `[END_CALL]`, media failure, an error in any step, a lost channel found on
reconnect): caller channel, external media channel, bridge, leg, conversation, record.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Final

import structlog

from ari_app.call import UNROUTED, Call, CallStatus, Direction, InvalidTransition
from ari_app.call_events import CallAnnouncer
from ari_app.client import ORIGINATE_TIMEOUT_S
from ari_app.dtmf import AriDtmf
from ari_app.errors import AriError, AriUnreachable, NotFound
from ari_app.media_legs import LEG_CONNECT_TIMEOUT_S, open_rtp_leg
from ari_app.metrics import INBOUND_UNROUTED
from ari_app.ports import AgentRoute
from ari_app.recording import ActiveRecording
from ari_app.tasks import cancel_and_wait
from ari_app.transfer import AriTransfer
from media.leg import MediaLeg
from pipeline.agent import VoicemailAction
from pipeline.records import CallOutcome, CallResult

if TYPE_CHECKING:
    from ari_app.controller import CallController

log = structlog.get_logger(__name__)

# Dial statuses that end an outbound attempt, and the status each gives the call. NOANSWER is
# not one: Asterisk 22.10.1 reports it for a declined callee (cause 21, 403) as for an
# unreachable one (cause 18), and the ChannelDestroyed that follows tells which.
DIAL_FAILURES: Final = {
    "BUSY": CallStatus.BUSY,
    "CANCEL": CallStatus.NO_ANSWER,
    "CONGESTION": CallStatus.FAILED,
    "CHANUNAVAIL": CallStatus.FAILED,
}
# Q.850 causes of an unanswered leg's ChannelDestroyed.
CAUSE_STATUS: Final = {17: CallStatus.BUSY, 18: CallStatus.NO_ANSWER, 19: CallStatus.NO_ANSWER}
# A pipeline whose leg closed winds down (providers closed, record built) within this.
CONVERSATION_STOP_S: Final = 10.0
# Longer than any one ARI request's timeout: a setup step in flight is allowed to finish.
SETUP_STOP_S: Final = ORIGINATE_TIMEOUT_S + 1.0
# error_reason of a call whose Asterisk went away mid-call (what the operator must look into).
ASTERISK_LOST: Final = "Asterisk went away mid-call: no hang-up event, its ARI unreachable"


class CallEnded(Exception):
    """Raised between setup steps once the call is being torn down."""


class MediaUnavailable(Exception):
    """The call's media transport cannot be used by this process."""


class CallSession:
    """The controller's state for one call; `call.channel_id` is the caller's channel."""

    def __init__(self, controller: CallController, call: Call, route: AgentRoute | None) -> None:
        self.controller = controller
        self.call = call
        self.route = route
        self.media_channel_id = f"media-{call.id}"
        self.bridge_id = f"{controller.app}-{call.id}"
        self.bridge_created = False
        self.media_requested = False
        self.caller_gone = False
        self.media_started = asyncio.Event()
        self.leg: MediaLeg | None = None
        self.result: CallResult | None = None
        self.conversing = False
        self.ending = False
        # False for a call no agent took (unknown DID): nothing is recorded.
        self.recorded = True
        # True when Vocals itself ended the call (see `stop`).
        self.stopped = False
        # True when the teardown found Asterisk gone before it said the caller left.
        self.asterisk_lost = False
        self.on_end: Callable[[Call], Awaitable[None]] | None = None
        self.recording: ActiveRecording | None = None
        self.transfer = AriTransfer(self)
        events = controller.events
        self.announcer = None if events is None else CallAnnouncer(events, call)
        self._task: asyncio.Task[None] | None = None
        self._teardown: asyncio.Task[None] | None = None
        self._log = log.bind(call_id=str(call.id), tenant_id=str(call.tenant_id))

    def take_route(self, route: AgentRoute) -> None:
        """The agent answering this call is known: the call now belongs to its tenant."""
        self.route = route
        self.call.tenant_id, self.call.agent_id = route.tenant_id, route.agent_id
        self._log = log.bind(call_id=str(self.call.id), tenant_id=str(route.tenant_id))

    # ---- entry points --------------------------------------------------------------

    def start(self, body: Callable[[], Awaitable[None]]) -> None:
        """Run the call's steps in a task; teardown follows whatever way it ends."""
        self._task = asyncio.create_task(self._guarded(body), name=f"call-{self.call.id}")

    async def _guarded(self, body: Callable[[], Awaitable[None]]) -> None:
        reason = "call steps done"
        try:
            await body()
        except (asyncio.CancelledError, CallEnded):
            return  # whoever ended the call is tearing it down
        except AriError as exc:
            reason = f"ARI error: {exc}"
            if not (self.caller_gone or self.ending or await self._caller_vanished()):
                self.call.error = self.call.error or str(exc)
                self._log.warning("call step failed", error=str(exc))
        except Exception as exc:
            reason = f"error: {exc}"
            self.call.error = self.call.error or str(exc)
            self._log.exception("call step failed")
        if self._teardown is None:  # else the teardown in progress is waiting for us
            self._task = None
            await self.end(reason)

    async def _caller_vanished(self) -> bool:
        """True when the caller's channel is gone: a step failed because of a hangup whose
        StasisEnd is still on its way, not because of an error."""
        if self.call.channel_id is None:
            return False
        try:
            await self.controller.ari.get_channel(self.call.channel_id)
        except NotFound:
            return True
        except AriError:
            return False
        return False

    async def inbound(self) -> None:
        """Answer, then converse."""
        await self.controller.ari.answer(self.caller_channel)
        self._check()
        await self.set_status(CallStatus.ANSWERED)
        await self.converse()

    async def outbound_answered(self) -> None:
        """The callee answered and AMD ran; act on its result."""
        if self.call.amd_status == "MACHINE":
            await self.set_status(CallStatus.VOICEMAIL)
            self.call.outcome = "voicemail"
            policy = self.route.voicemail if self.route is not None else None
            if policy is None or policy.action is VoicemailAction.HANGUP or not policy.message:
                return
            leg = await self.connect_media()
            self.conversing = True
            conversations = self.controller.conversations
            self.result = await conversations.leave_voicemail(self.call, leg, policy.message)
            return
        await self.converse()

    async def converse(self) -> None:
        leg = await self.connect_media()
        self.conversing = True
        keys = AriDtmf(self.controller.ari, self.caller_channel)
        self.result = await self.controller.conversations.converse(
            self.call, leg, control=self.transfer, dtmf=keys
        )
        self.call.outcome = self.result.outcome.value
        if self.transfer.handed_over:
            # The caller talks with the human now: the call lasts until one of them leaves.
            self.call.outcome = CallOutcome.TRANSFERRED.value
            self.call.metadata["transferred_to"] = self.transfer.target or ""
            await self.transfer.over.wait()

    def announce_transferred(self, target: str, mode: str) -> None:
        if self.announcer is not None and self.recorded:
            self.announcer.transferred(target, mode)

    def announce_started(self) -> None:
        if self.announcer is not None and self.recorded:
            self.announcer.started()

    # ---- media ---------------------------------------------------------------------

    def _check(self) -> None:
        if self.ending:
            raise CallEnded

    @property
    def caller_channel(self) -> str:
        assert self.call.channel_id is not None
        return self.call.channel_id

    async def connect_media(self) -> MediaLeg:
        """Bridge the caller with an external media channel once its leg is connected."""
        use_rtp = self.route is not None and self.route.media == "rtp"
        if use_rtp and self.controller.rtp_pool is None:
            # Only this call fails (its record says why); the process and other calls go on.
            raise MediaUnavailable("the agent's media transport is RTP but no RTP ports are set up")
        ari = self.controller.ari
        await self.hold_resources()
        self.bridge_created = True  # set first: a cancelled request may still have made it
        await ari.create_bridge(bridge_id=self.bridge_id, name=self.bridge_id, type="mixing")
        self._check()
        if use_rtp:
            leg = await self._connect_rtp()
        else:
            leg = await self._connect_audiosocket()
        self.leg = leg
        self._start_recording(leg)
        await asyncio.wait_for(self.media_started.wait(), LEG_CONNECT_TIMEOUT_S)
        self._check()
        # Only now: a bridge with no live media would leave the caller in silence.
        await ari.add_channels(self.bridge_id, [self.caller_channel, self.media_channel_id])
        self._check()
        return leg

    async def hold_resources(self, *extra_channels: str) -> None:
        """Keep the call's channels (and `extra_channels`: a transfer's) with its live state."""
        try:
            await self.controller.ledger.hold(
                self.call,
                channels=[self.caller_channel, self.media_channel_id, *extra_channels],
                bridges=[self.bridge_id],
            )
        except Exception:
            # Only a survivor's clean-up after a crash needs them: the call goes on.
            self._log.exception("saving the call's Asterisk resources failed")

    async def _connect_audiosocket(self) -> MediaLeg:
        settings = self.controller.media
        waiter = self.controller.legs.expect(self.call.id)
        self.media_requested = True
        try:
            await self.controller.ari.external_media(
                channel_id=self.media_channel_id,
                external_host=f"{settings.advertise_host}:{settings.audiosocket_port}",
                format=settings.audiosocket_format,
                encapsulation="audiosocket",
                transport="tcp",
                data=str(self.call.id),
            )
            return await asyncio.wait_for(waiter, LEG_CONNECT_TIMEOUT_S)
        finally:
            self.controller.legs.forget(self.call.id)

    async def _connect_rtp(self) -> MediaLeg:
        assert self.controller.rtp_pool is not None
        settings = self.controller.media
        leg = await open_rtp_leg(self.controller.rtp_pool, settings.bind_host)
        self.leg = leg
        self.media_requested = True
        channel = await self.controller.ari.external_media(
            channel_id=self.media_channel_id,
            external_host=f"{settings.advertise_host}:{leg.local_port}",
            format=settings.rtp_format,
            encapsulation="rtp",
            transport="udp",
        )
        host, port = channel.var("UNICASTRTP_LOCAL_ADDRESS"), channel.var("UNICASTRTP_LOCAL_PORT")
        if not host or not port:
            raise RuntimeError("externalMedia answer lacks UNICASTRTP_LOCAL_ADDRESS/PORT")
        leg.set_remote(host, int(port))
        return leg

    # ---- recording -----------------------------------------------------------------

    def _start_recording(self, leg: MediaLeg) -> None:
        recordings = self.controller.recordings
        if recordings is None or self.route is None or not self.route.recording:
            return
        try:
            self.recording = recordings.start(self.call.tenant_id, self.call.id, leg)
        except (OSError, RuntimeError) as exc:
            self._log.error("recording could not start; the call goes on", error=str(exc))

    async def _finish_recording(self) -> None:
        recording, recordings = self.recording, self.controller.recordings
        if recording is None or recordings is None:
            return
        self.recording = None
        try:
            self.call.recording_path = await recordings.finish(recording)
        except Exception:
            self._log.exception("finishing the recording failed")

    # ---- status --------------------------------------------------------------------

    async def set_status(self, status: CallStatus) -> None:
        if not self.recorded:
            return
        try:
            self.call.to(status)
        except InvalidTransition as exc:
            self._log.warning("status change refused", error=str(exc))
            return
        self._log.info("call status", status=status.value)
        if self.announcer is not None:
            if status is CallStatus.ANSWERED:
                self.announcer.answered()
            elif status is CallStatus.VOICEMAIL:
                self.announcer.voicemail()
        try:
            await self.controller.ledger.save(self.call)
        except Exception:
            self._log.exception("saving live call state failed")

    # ---- events from the controller ------------------------------------------------

    async def dial_status(self, dialstatus: str) -> None:
        if dialstatus == "RINGING":
            await self.set_status(CallStatus.RINGING)
        elif dialstatus == "ANSWER":
            await self.set_status(CallStatus.ANSWERED)
        elif dialstatus in DIAL_FAILURES:
            await self.set_status(DIAL_FAILURES[dialstatus])

    async def caller_ended(self, cause: int | None) -> None:
        """The caller's channel left Stasis or was destroyed."""
        if self.transfer.connected is not None:
            self.call.metadata.setdefault("ended_by", "caller")
        self.caller_gone = True
        if cause is not None and self.call.hangup_cause is None:
            self.call.hangup_cause = cause
        if self.call.status in (CallStatus.DIALING, CallStatus.RINGING) and cause is not None:
            await self.set_status(CAUSE_STATUS.get(cause, CallStatus.FAILED))
        unanswered = self.call.time_of(CallStatus.ANSWERED) is None
        if self.call.status is CallStatus.FAILED and unanswered and cause is not None:
            # The cause is the only account of why (campaigns read "cause 21" as declined).
            self.call.error = self.call.error or f"not answered: cause {cause}"
        await self.end("caller channel ended")

    async def media_ended(self) -> None:
        """The external media channel left Stasis. Asterisk ends it when our leg hung up (its
        StasisEnd can come before our teardown starts) and when our teardown hangs it up:
        neither is an error; any other end is a media failure."""
        ours = self.tearing_down or (self.leg is not None and self.leg.hung_up)
        if ours and self.transfer.handed_over:
            return  # the agent left a transferred call; caller and human talk on
        if not ours:
            self.call.error = self.call.error or "external media channel ended"
        await self.end("media leg hung up" if ours else "external media channel ended")

    async def transfer_leg_ended(self, channel_id: str, cause: int | None) -> None:
        """A channel dialled for a transfer ended; once bridged with the caller, the call."""
        if self.transfer.ended(channel_id, cause):
            self.call.metadata.setdefault("ended_by", "transfer_target")
            await self.end("transfer target hung up")

    @property
    def tearing_down(self) -> bool:
        """True once the teardown has started (whatever started it)."""
        return self._teardown is not None

    async def stop(self, reason: str) -> None:
        """End the call from Vocals' side (shutdown, API). Its leg then closes just as on a caller's
        hang-up, so the record would say the caller hung up: it says `stopped` instead."""
        if self._teardown is None:
            self.stopped = True
        await self.end(reason)

    async def end(self, reason: str) -> None:
        """Tear the call down (once; later calls wait for the first)."""
        if self._teardown is None:
            self._teardown = asyncio.create_task(self._tear_down(reason))
        await asyncio.shield(self._teardown)

    async def _tear_down(self, reason: str) -> None:
        try:
            await self._tear_down_steps(reason)
        finally:
            self.controller.finished(self)

    async def _tear_down_steps(self, reason: str) -> None:
        self._log.info("call teardown", reason=reason)
        self.controller.legs.forget(self.call.id)
        self.transfer.over.set()
        task = self._task
        if task is not None and not task.done() and not self.conversing:
            # Still setting up: let the REST request in flight finish (cancelling it could
            # leave a bridge or channel created after our cleanup), then stop.
            self.ending = True
            self.media_started.set()
            try:
                await asyncio.wait_for(asyncio.shield(task), SETUP_STOP_S)
            except TimeoutError:
                with contextlib.suppress(Exception):
                    await cancel_and_wait(task)
        await self._release_asterisk()
        if self.leg is not None:
            await self.leg.hangup()
        if task is not None and not task.done():
            # The conversation ends by itself once its leg is closed and returns the record.
            try:
                await asyncio.wait_for(asyncio.shield(task), CONVERSATION_STOP_S)
            except TimeoutError:
                self._log.error("conversation did not stop; cancelling it")
                with contextlib.suppress(Exception):
                    await cancel_and_wait(task)
        if self.transfer.handed_over:
            self.call.outcome = CallOutcome.TRANSFERRED.value
        elif self.stopped and self.call.outcome == CallOutcome.CALLER_HUNG_UP:
            self.call.outcome = CallOutcome.STOPPED.value
        elif self.asterisk_lost and self.call.outcome == CallOutcome.CALLER_HUNG_UP:
            # The leg closed because Asterisk died (crash, restart), not because the caller
            # hung up: no StasisEnd came and no request reaches it.
            self.call.outcome = CallOutcome.ERROR.value
            self.call.error = self.call.error or ASTERISK_LOST
        self.controller.forget(self)
        if self.recorded and self.call.tenant_id == UNROUTED:
            # Ended (caller hung up, say) while its number was being looked up: no tenant, so
            # no record PostgreSQL would take.
            self.recorded = False
            INBOUND_UNROUTED.labels("ended_before_routing").inc()
            self._log.warning(
                "inbound call ended before it was routed; not recorded",
                did=self.call.to_number,
                reason=reason,
                error=self.call.error,
            )
        await self._finish_recording()
        await self._final_status()
        if self.recorded:
            try:
                await self.controller.ledger.finish(self.call, self.result)
            except Exception:
                self._log.exception("writing the call record failed")
            if self.announcer is not None:
                self.announcer.finished(self.result)
        if self.on_end is not None:
            try:
                await self.on_end(self.call)
            except Exception:
                self._log.exception("call end hook failed")
        if self.announcer is not None:
            await self.announcer.drain()

    async def _release_asterisk(self) -> None:
        """Hang up the caller and media channels and destroy the bridge (gone ones are fine)."""
        ari = self.controller.ari
        steps: list[Awaitable[None]] = []
        if not self.caller_gone and self.call.channel_id is not None:
            steps.append(ari.hangup(self.call.channel_id))
        if self.media_requested:
            steps.append(ari.hangup(self.media_channel_id))
        steps.extend(ari.hangup(channel) for channel in self.transfer.live_channels)
        if self.bridge_created:
            steps.append(ari.destroy_bridge(self.bridge_id))
        caller_gone = self.caller_gone
        for outcome in await asyncio.gather(*steps, return_exceptions=True):
            if isinstance(outcome, AriUnreachable) and not caller_gone:
                self.asterisk_lost = True
            if isinstance(outcome, AriError) and outcome.status not in (404, 422):
                self._log.warning("teardown step failed", error=str(outcome))
            elif isinstance(outcome, BaseException) and not isinstance(outcome, AriError):
                self._log.error("teardown step failed", error=repr(outcome))

    async def _final_status(self) -> None:
        status = self.call.status
        if status in (CallStatus.ANSWERED, CallStatus.VOICEMAIL):
            await self.set_status(CallStatus.COMPLETED)
        elif status in (CallStatus.QUEUED, CallStatus.DIALING, CallStatus.RINGING):
            await self.set_status(
                CallStatus.NO_ANSWER
                if self.call.direction is Direction.INBOUND
                else CallStatus.FAILED
            )
