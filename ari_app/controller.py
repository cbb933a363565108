"""`CallController`: the Stasis application for one Asterisk server.

It routes ARI events to per-call `CallSession`s, starts inbound calls, places outbound ones
into the AMD context, and after every (re)connect reconciles with what Asterisk still holds:
calls whose channels vanished are ended, channels and bridges of ours nobody owns are
hung up or destroyed, and an inbound call whose StasisStart was lost is taken up.
"""

from __future__ import annotations

import asyncio
import collections
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

import structlog

from ari_app.admission import Admission
from ari_app.call import UNROUTED, Call, CallStatus, Direction
from ari_app.call_events import record_never_dialled
from ari_app.client import AriClient
from ari_app.errors import AriError, NotFound, Unprocessable
from ari_app.events import (
    AriEvent,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelVarset,
    Dial,
    StasisEnd,
    StasisStart,
    UnknownEvent,
)
from ari_app.listener import EventListener
from ari_app.media_legs import LegWaiters, MediaSettings
from ari_app.metrics import INBOUND_UNROUTED
from ari_app.models import Channel
from ari_app.ports import AgentDirectory, CallEventSink, CallLedger, Conversations
from ari_app.recording import CallRecordings
from ari_app.session import CallSession
from media.rtp import RtpLeg, RtpPortPool
from store.numbers import normalize_number

log = structlog.get_logger(__name__)

# The dialplan context outbound calls are originated into (asterisk/conf/extensions.conf).
AMD_CONTEXT: Final = "vocals-outbound"
# How often a draining controller looks whether its last calls have ended.
DRAIN_POLL_S: Final = 0.2
# Events remembered to drop a repeat: the two copies of one come close together, other calls'
# events between them.
RECENT_EVENTS: Final = 64
# Ring this long before Asterisk gives up with cause 19.
DEFAULT_RING_TIMEOUT_S: Final = 30


class CallController:
    """Controls every call of one Stasis app on one Asterisk server.

    Wire `listener` (built here) to the events WebSocket, `legs.on_leg` to the
    `AudioSocketServer`, and `originate` to the outbound dispatcher. With `recordings` the
    calls of agents that ask for it are recorded; with `events` every call's lifecycle is
    announced there. With `admission` an inbound call beyond the process's capacity is
    refused as congested (never answered), recorded as failed and announced.
    """

    def __init__(
        self,
        ari: AriClient,
        *,
        directory: AgentDirectory,
        conversations: Conversations,
        ledger: CallLedger,
        media: MediaSettings | None = None,
        legs: LegWaiters | None = None,
        rtp_pool: RtpPortPool | None = None,
        amd_context: str = AMD_CONTEXT,
        recordings: CallRecordings | None = None,
        events: CallEventSink | None = None,
        admission: Admission | None = None,
    ) -> None:
        self.ari = ari
        self.app = ari.app
        self.directory = directory
        self.conversations = conversations
        self.ledger = ledger
        self.media = media or MediaSettings()
        self.legs = legs or LegWaiters()
        self.rtp_pool = rtp_pool
        self.amd_context = amd_context
        self.recordings = recordings
        self.events = events
        self.admission = admission
        self.listener = EventListener(ari.settings, self.handle, on_connected=self.reconcile)
        self._by_channel: dict[str, CallSession] = {}
        # Endpoints this app is subscribed to since it (re)connected (see _watch_endpoint).
        self._watched: set[str] = set()
        self._recent_events: collections.deque[AriEvent | UnknownEvent] = collections.deque(
            maxlen=RECENT_EVENTS
        )
        # Sessions no longer routed events but still finishing (recording, record, events).
        self._finishing: set[CallSession] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.draining = False
        self._log = log.bind(app=self.app)

    # ---- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        self.listener.start()

    async def drain(self, timeout_s: float) -> int:
        """Take no new inbound calls (they are refused as congested, so the dialplan or the
        carrier can try elsewhere) and wait up to `timeout_s` for live calls to end; returns
        how many are still live."""
        self.draining = True
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            if not self._by_channel or remaining <= 0:
                return len(self.sessions)  # a call is routed by two channels: count calls
            await asyncio.sleep(min(DRAIN_POLL_S, remaining))

    async def stop(self) -> None:
        """End every call cleanly (and let those already ending finish), then close the events
        socket."""
        sessions = set(self._by_channel.values()) | self._finishing
        await asyncio.gather(*(s.stop("shutdown") for s in sessions))
        await self.listener.stop()
        for task in list(self._tasks):
            task.cancel()

    @property
    def sessions(self) -> list[CallSession]:
        return list({id(s): s for s in self._by_channel.values()}.values())

    def session_for_call(self, call_id: uuid.UUID) -> CallSession | None:
        return next((s for s in self.sessions if s.call.id == call_id), None)

    def holds_channel(self, channel_id: str) -> bool:
        """True when one of this controller's calls has `channel_id` (taken up on reconnect,
        say): adoption must not hang it up as the leftover of a dead process's call."""
        return channel_id in self._by_channel

    def forget(self, session: CallSession) -> None:
        """Route no more events to `session`; `stop` still waits for it until `finished`."""
        for key in [k for k, s in self._by_channel.items() if s is session]:
            del self._by_channel[key]
        self._finishing.add(session)

    def finished(self, session: CallSession) -> None:
        """`session`'s teardown is complete: its capacity is free again."""
        self._finishing.discard(session)
        if self.admission is not None:
            self.admission.release(session.call.id)

    def _track(self, session: CallSession) -> None:
        assert session.call.channel_id is not None
        self._by_channel[session.call.channel_id] = session
        self._by_channel[session.media_channel_id] = session

    def track_channel(self, session: CallSession, channel_id: str) -> None:
        """Route `channel_id`'s events to `session` too (a channel dialled for a transfer)."""
        self._by_channel[channel_id] = session

    def _spawn(self, coro: Awaitable[None]) -> None:
        async def run() -> None:
            await coro

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- events --------------------------------------------------------------------

    async def handle(self, event: AriEvent | UnknownEvent) -> None:
        """Route one event. Fast: long work runs in the call's own task."""
        if event in self._recent_events:
            # An outbound channel in Stasis is the app's twice, on its own and through the
            # trunk's endpoint: Asterisk sends some of its events (a key press) twice, alike.
            return
        self._recent_events.append(event)
        if isinstance(event, StasisStart):
            self._stasis_start(event)
        elif isinstance(event, StasisEnd | ChannelDestroyed):
            session = self._by_channel.get(event.channel.id)
            if session is None:
                return
            cause = event.cause if isinstance(event, ChannelDestroyed) else None
            if session.transfer.owns(event.channel.id):
                self._spawn(session.transfer_leg_ended(event.channel.id, cause))
            elif event.channel.id == session.media_channel_id:
                self._spawn(session.media_ended())
            else:
                self._spawn(session.caller_ended(cause))
        elif isinstance(event, Dial):
            session = self._by_channel.get(event.peer.id)
            if session is not None and session.transfer.owns(event.peer.id):
                session.transfer.dialled(event.peer.id, event.dialstatus)
            elif session is not None and event.peer.id == session.call.channel_id:
                self._spawn(session.dial_status(event.dialstatus))
        elif isinstance(event, ChannelVarset):
            self._varset(event)
        elif isinstance(event, ChannelDtmfReceived):
            # AudioSocket legs carry DTMF in-band (0x03) and the pipeline reads it from the
            # leg; external-media RTP carries none, so the caller channel's event feeds it.
            session = self._by_channel.get(event.channel.id)
            if session is not None and event.channel.id == session.call.channel_id:
                self._rtp_dtmf(session, event.digit)

    @staticmethod
    def _rtp_dtmf(session: CallSession, digit: str) -> None:
        if isinstance(session.leg, RtpLeg):
            session.leg.signalled_dtmf(digit)

    def _varset(self, event: ChannelVarset) -> None:
        if event.channel is None or event.variable not in ("AMDSTATUS", "AMDCAUSE"):
            return
        session = self._by_channel.get(event.channel.id)
        if session is not None:
            if event.variable == "AMDSTATUS":
                session.call.amd_status = event.value
            else:
                session.call.amd_cause = event.value

    def _stasis_start(self, event: StasisStart) -> None:
        channel, args = event.channel, event.args
        session = self._by_channel.get(channel.id)
        if session is not None and channel.id == session.media_channel_id:
            session.media_started.set()
        elif session is not None and session.transfer.owns(channel.id):
            session.transfer.answered(channel.id)
        elif args[:1] == ["inbound"]:
            if session is not None:
                return  # already taken up by a reconcile that listed it first
            self._inbound(channel, args[1] if len(args) > 1 else channel.dialplan_exten)
        elif args[:1] == ["outbound"] and session is not None:
            call = session.call
            if len(args) >= 4:
                call.amd_status, call.amd_cause = args[2] or None, args[3] or None
            self._spawn(self._outbound_answered(session))
        else:
            self._log.warning(
                "unexpected channel in stasis, hanging up", channel=channel.id, args=args
            )
            self._spawn(self._hangup_quietly(channel.id, "normal"))

    def _inbound(self, channel: Channel, dialled: str) -> None:
        did = normalize_number(dialled)
        if self.draining:
            self._log.info("draining: refusing a new call", channel=channel.id, did=did)
            if self.admission is not None:
                self.admission.refused["draining"] += 1
            self._spawn(self._hangup_quietly(channel.id, "congestion"))
            return
        call = Call(
            id=uuid.uuid4(),
            tenant_id=UNROUTED,
            agent_id=UNROUTED,
            direction=Direction.INBOUND,
            from_number=channel.caller.number,
            to_number=did,
            channel_id=channel.id,
            status=CallStatus.RINGING,
        )
        session = CallSession(self, call, None)
        self._track(session)  # before any await: a quick hangup must find the call
        session.start(lambda: self._run_inbound(session, did))

    async def _run_inbound(self, session: CallSession, did: str) -> None:
        try:
            route = await self.directory.route_for_did(did)
        except Exception as exc:
            # Neither PostgreSQL nor the cache knows the number: refused as congested, so the
            # carrier or the dialplan can try elsewhere.
            self._unrouted(session, did, "lookup_failed", repr(exc))
            await self._hangup_quietly(session.caller_channel, "congestion")
            return
        if route is None:
            self._unrouted(session, did, "unknown_number", "no agent has this number")
            await self._hangup_quietly(session.caller_channel, "unallocated")
            return
        session.take_route(route)
        call = session.call
        if self.admission is not None:
            refusal = self.admission.admit(call.id, local=route.local_weight)
            if refusal is not None:
                await self._refuse(session, refusal)
                return
        await self.ledger.save(call)
        session.announce_started()
        await session.inbound()

    async def _refuse(self, session: CallSession, reason: str) -> None:
        """Hang up an unanswered inbound call as congested (the carrier may try elsewhere) and
        record it as failed with `reason`."""
        call = session.call
        self._log.warning(
            "refusing a call",
            reason=reason,
            channel=session.caller_channel,
            call_id=str(call.id),
            tenant_id=str(call.tenant_id),
        )
        self.forget(session)
        session.recorded = False  # recorded here, not by the teardown
        session.caller_gone = True
        await self._hangup_quietly(session.caller_channel, "congestion")
        call.error = reason
        await record_never_dialled(call, self.ledger, self.events)

    def _unrouted(self, session: CallSession, did: str, reason: str, detail: str) -> None:
        """The call has no tenant, so no record: counted and logged, then hung up."""
        INBOUND_UNROUTED.labels(reason).inc()
        self._log.warning(
            "inbound call not routed, hanging up",
            did=did,
            reason=reason,
            error=detail,
            channel=session.caller_channel,
        )
        self.forget(session)
        session.recorded = False
        session.caller_gone = True

    async def _outbound_answered(self, session: CallSession) -> None:
        if session.call.status in (CallStatus.DIALING, CallStatus.RINGING):
            await session.set_status(CallStatus.ANSWERED)  # Dial ANSWER may have been lost
        session.start(session.outbound_answered)

    async def _hangup_quietly(self, channel_id: str, reason: str) -> None:
        try:
            await self.ari.hangup(channel_id, reason=reason)
        except AriError as exc:
            if exc.status != 404:
                self._log.warning("hangup failed", channel=channel_id, error=str(exc))

    # ---- outbound ------------------------------------------------------------------

    async def originate(
        self,
        call: Call,
        *,
        endpoint: str,
        caller_id: str | None = None,
        ring_timeout_s: int = DEFAULT_RING_TIMEOUT_S,
        formats: Sequence[str] | None = None,
        on_end: Callable[[Call], Awaitable[None]] | None = None,
        before_dial: Callable[[], Awaitable[None]] | None = None,
    ) -> CallSession:
        """Dial `endpoint` into the AMD context and follow the call; `on_end` runs once the
        call is over, whatever happened (the dispatcher frees the trunk slot there).
        `before_dial` runs right before the originate request (the dispatcher waits for the
        trunk's pacing slot there, so bookkeeping before it cannot bunch two requests)."""
        route = await self.directory.route_for_agent(call.tenant_id, call.agent_id)
        call.channel_id = str(call.id)
        session = CallSession(self, call, route)
        session.on_end = on_end
        self._track(session)
        await session.set_status(CallStatus.DIALING)
        if route is None:
            call.error = "agent not found"
            await session.set_status(CallStatus.FAILED)
            session.caller_gone = True
            await session.end("agent not found")
            return session
        session.announce_started()
        watched = await self._watch_endpoint(endpoint)
        if before_dial is not None:
            try:
                await before_dial()
            except BaseException:
                # Stopped, or Redis gone, before dialling: the job's claim runs out and the call
                # is dialled later, so this process records nothing of it and holds nothing.
                self.forget(session)
                self.finished(session)
                raise
            if session.tearing_down:
                return session  # ended (shut down) while it waited: never dial it
        try:
            await self.ari.originate(
                endpoint,
                channel_id=call.channel_id,
                context=self.amd_context,
                extension="s",
                priority=1,
                caller_id=caller_id,
                timeout_s=ring_timeout_s,
                formats=formats,
                variables={"VOCALS_APP": self.app, "VOCALS_CALL_ID": str(call.id)},
            )
            if not watched:
                await self.ari.subscribe(f"channel:{call.channel_id}")
        except (NotFound, Unprocessable) as exc:
            call.error = f"channel gone before its outcome was seen: {exc.message}"
            session.caller_gone = True
            await session.end("originate lost")
        except AriError as exc:
            call.error = f"originate failed: {exc.status} {exc.message}"
            self._log.warning("originate failed", call_id=str(call.id), error=call.error)
            await session.set_status(CallStatus.FAILED)
            session.caller_gone = True
            await session.end("originate failed")
        return session

    async def _watch_endpoint(self, endpoint: str) -> bool:
        """Subscribe to the endpoint `endpoint` dials through (`PJSIP/<number>@<trunk>`): its
        channels' events from their creation. Without a subscription a dialplan originate
        reports nothing before StasisStart (no ringing, no busy, no ChannelDestroyed), and a
        callee refusing at once (486 or 403 within a millisecond, seen on 22.10.1) ends the
        channel before a subscription to the channel itself reaches Asterisk (422). Once per
        endpoint until the events socket reconnects. False if it failed: the channel is then
        subscribed to after the originate, as well as it can."""
        tech, _, resource = endpoint.partition("/")
        source = f"endpoint:{tech}/{resource.rpartition('@')[2]}"
        if source in self._watched:
            return True
        try:
            await self.ari.subscribe(source)
        except AriError as exc:
            self._log.warning("endpoint subscription failed", source=source, error=str(exc))
            return False
        self._watched.add(source)
        return True

    async def fail_before_dialling(self, call: Call) -> None:
        """Record a queued call that could not be dialled at all (`call.error` says why)."""
        await record_never_dialled(call, self.ledger, self.events)

    # ---- reconnect -----------------------------------------------------------------

    async def reconcile(self) -> None:
        """After (re)connecting: events meanwhile are lost, so compare with Asterisk's view."""
        self._watched.clear()  # an Asterisk that restarted knows no subscription of ours
        channels = await self.ari.list_channels()
        bridges = await self.ari.list_bridges()
        live = {c.id: c for c in channels}
        for session in self.sessions:
            if session.call.channel_id not in live:
                self._spawn(session.caller_ended(None))
            elif session.media_started.is_set() and session.media_channel_id not in live:
                self._spawn(session.end("external media channel vanished"))
        for channel in channels:
            if channel.id in self._by_channel or not self._in_our_stasis(channel):
                continue
            args = (channel.dialplan.app_data if channel.dialplan else "").split(",")[1:]
            if args[:1] == ["inbound"] and channel.state != "Up":
                self._log.info(
                    "taking up an inbound call missed while disconnected", channel=channel.id
                )
                self._inbound(channel, args[1] if len(args) > 1 else channel.dialplan_exten)
            else:
                self._log.info("hanging up an orphan channel", channel=channel.id)
                self._spawn(self._hangup_quietly(channel.id, "normal"))
        owned = {s.bridge_id for s in self.sessions}
        for bridge in bridges:
            if bridge.name.startswith(f"{self.app}-") and bridge.id not in owned:
                self._log.info("destroying an orphan bridge", bridge=bridge.id)
                self._spawn(self._destroy_quietly(bridge.id))

    def _in_our_stasis(self, channel: Channel) -> bool:
        plan = channel.dialplan
        if plan is None or plan.app_name != "Stasis":
            return False
        return plan.app_data.split(",", 1)[0] == self.app

    async def _destroy_quietly(self, bridge_id: str) -> None:
        try:
            await self.ari.destroy_bridge(bridge_id)
        except AriError as exc:
            if exc.status != 404:
                self._log.warning("bridge destroy failed", bridge=bridge_id, error=str(exc))
