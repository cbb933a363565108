"""Transfers of one Asterisk call: `pipeline.call_control.CallControl` over ARI.

* A dialplan target (`context,exten`): the caller's channel continues there, leaving Stasis.
* An endpoint or a number through a trunk: a new channel is originated into our app; once it
  answers (its StasisStart) it joins the call's bridge and the agent's media leaves (blind).
  Warm: the caller leaves the bridge for hold (`transfer_hold`) while the human's phone rings
  and the agent tells the human alone, then the caller comes back to a bridge holding the
  human and the agent's media leaves.

Nothing here relies on an event order Asterisk does not promise: the new channel's fate is
its StasisStart (answered) or its ChannelDestroyed (with the cause), whichever comes, and the
Dial statuses seen on the way only sharpen a cause Asterisk left vague.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import structlog

from ari_app.errors import AriError
from ari_app.transfer_hold import CallerHold
from pipeline.call_control import (
    Announce,
    TransferFailure,
    TransferMode,
    TransferResult,
    TransferTarget,
)

if TYPE_CHECKING:
    from ari_app.session import CallSession

log = structlog.get_logger(__name__)

# First Stasis argument of a channel originated for a transfer (then the call id).
TRANSFER_ARG: Final = "transfer"
# Beyond the ring timeout Asterisk ends the leg itself; this much later we stop waiting.
RING_GRACE_S: Final = 5.0
# Q.850 causes of the transfer leg's ChannelDestroyed.
CAUSE_FAILURE: Final = {
    17: TransferFailure.BUSY,
    18: TransferFailure.NO_ANSWER,
    19: TransferFailure.NO_ANSWER,
    21: TransferFailure.REJECTED,
}
DIAL_FAILURE: Final = {
    "BUSY": TransferFailure.BUSY,
    "NOANSWER": TransferFailure.NO_ANSWER,
    "CANCEL": TransferFailure.NO_ANSWER,
}


@dataclass
class _Leg:
    """A channel dialled for the transfer."""

    channel_id: str
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    dialstatus: str = ""
    cause: int | None = None

    def failure(self) -> TransferFailure:
        if self.cause in CAUSE_FAILURE:
            return CAUSE_FAILURE[self.cause]
        return DIAL_FAILURE.get(self.dialstatus, TransferFailure.FAILED)


class AriTransfer:
    """The transfers of one `CallSession` (its `CallControl`)."""

    def __init__(self, session: CallSession) -> None:
        self._session = session
        self._legs: dict[str, _Leg] = {}
        # The caller is no longer the agent's: the session must not hang it up as the
        # conversation ends, and keeps the call until the caller or the human leaves.
        self.handed_over = False
        self.target: str | None = None
        self.connected: str | None = None  # the human's channel, once bridged with the caller
        self.over = asyncio.Event()

    # ---- events (routed by the controller) ---------------------------------------------

    def owns(self, channel_id: str) -> bool:
        return channel_id in self._legs

    @property
    def live_channels(self) -> list[str]:
        return [leg.channel_id for leg in self._legs.values() if not leg.ended.is_set()]

    def answered(self, channel_id: str) -> None:
        self._legs[channel_id].answered.set()

    def dialled(self, channel_id: str, dialstatus: str) -> None:
        if dialstatus:
            self._legs[channel_id].dialstatus = dialstatus

    def ended(self, channel_id: str, cause: int | None) -> bool:
        """The leg left Stasis or was destroyed; True when that ends the call (the human
        hung up after the caller was put through)."""
        leg = self._legs[channel_id]
        if cause is not None and leg.cause is None:
            leg.cause = cause
        leg.ended.set()
        if channel_id == self.connected:
            self.over.set()
            return True
        return False

    # ---- CallControl ---------------------------------------------------------------------

    async def transfer(
        self,
        target: TransferTarget,
        mode: TransferMode,
        *,
        ring_timeout_s: int,
        announce: Announce | None,
    ) -> TransferResult:
        if self.handed_over:
            return TransferResult(failure=TransferFailure.FAILED, detail="already transferred")
        if target.kind == "dialplan":
            # Whoever the dialplan reaches cannot be briefed first: always blind.
            return await self._continue(target)
        if target.kind == "number":
            if target.trunk is None:
                return TransferResult(
                    failure=TransferFailure.FAILED, detail="no trunk given for the number"
                )
            endpoint = f"PJSIP/{target.target}@{target.trunk}"
        else:
            endpoint = target.target
        warm = announce if mode is TransferMode.WARM else None
        return await self._dial(target, endpoint, ring_timeout_s, warm)

    async def _continue(self, target: TransferTarget) -> TransferResult:
        session = self._session
        context, extension, *priority = target.target.split(",")
        # Before the request: the caller's StasisEnd may arrive before its answer.
        self.handed_over, self.target = True, target.name
        try:
            await session.controller.ari.continue_in_dialplan(
                session.caller_channel,
                context=context,
                extension=extension,
                priority=int(priority[0]) if priority else 1,
            )
        except AriError as exc:
            self.handed_over, self.target = False, None
            return TransferResult(failure=TransferFailure.FAILED, detail=exc.message)
        session.caller_gone = True  # it runs the dialplan now, no longer ours to hang up
        self.over.set()
        session.announce_transferred(target.name, TransferMode.BLIND)
        return TransferResult(mode=TransferMode.BLIND)

    async def _dial(
        self, target: TransferTarget, endpoint: str, ring_timeout_s: int, announce: Announce | None
    ) -> TransferResult:
        session = self._session
        leg = _Leg(f"{session.call.id}-transfer-{len(self._legs) + 1}")
        self._legs[leg.channel_id] = leg
        session.controller.track_channel(session, leg.channel_id)
        # A survivor adopting the call after a crash hangs this leg up too.
        await session.hold_resources(leg.channel_id)
        # Warm: the caller waits on hold while the human's phone rings and is briefed.
        hold = None
        if announce is not None:
            hold = CallerHold(session.controller.ari, session.bridge_id, session.caller_channel)
        try:
            try:
                if hold is not None:
                    await hold.start()
                await session.controller.ari.originate(
                    endpoint,
                    channel_id=leg.channel_id,
                    app=session.controller.app,
                    app_args=[TRANSFER_ARG, str(session.call.id)],
                    caller_id=session.call.from_number or None,
                    timeout_s=ring_timeout_s,
                )
            except AriError as exc:
                leg.ended.set()
                return TransferResult(failure=TransferFailure.FAILED, detail=exc.message)
            if not await self._answered(leg, ring_timeout_s + RING_GRACE_S):
                return TransferResult(failure=leg.failure(), detail=leg.dialstatus)
            return await self._connect(target, leg, announce, hold)
        finally:
            if hold is not None:
                with contextlib.suppress(AriError):  # the caller may have left meanwhile
                    await hold.end()  # back with the agent
            if self.connected != leg.channel_id and not leg.ended.is_set():
                await self._hangup_quietly(leg.channel_id)

    @staticmethod
    async def _answered(leg: _Leg, timeout_s: float) -> bool:
        """Until the leg answered (True) or ended or rang too long (False)."""
        waits = {
            asyncio.ensure_future(leg.answered.wait()),
            asyncio.ensure_future(leg.ended.wait()),
        }
        try:
            await asyncio.wait(waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
        if not leg.answered.is_set() and not leg.ended.is_set():
            leg.dialstatus = leg.dialstatus or "NOANSWER"
        return leg.answered.is_set() and not leg.ended.is_set()

    async def _connect(
        self,
        target: TransferTarget,
        leg: _Leg,
        announce: Announce | None,
        hold: CallerHold | None,
    ) -> TransferResult:
        """Bridge the answered human with the caller (after the briefing, when warm: the
        caller on `hold` meanwhile); the agent's media leaves the bridge."""
        session = self._session
        ari = session.controller.ari
        bridge = session.bridge_id
        if session.caller_gone or session.tearing_down:
            return TransferResult(failure=TransferFailure.FAILED, detail="the caller left")
        try:
            await ari.add_channels(bridge, [leg.channel_id])
            if announce is not None and not await self._briefed(leg, announce):
                return TransferResult(
                    failure=TransferFailure.REJECTED, detail="hung up during the briefing"
                )
            self.handed_over, self.target = True, target.name
            if hold is not None:
                await hold.end()
            await ari.remove_channels(bridge, [session.media_channel_id])
        except AriError as exc:
            self.handed_over, self.target = False, None
            return TransferResult(failure=TransferFailure.FAILED, detail=exc.message)
        self.connected = leg.channel_id
        if leg.ended.is_set():
            self.over.set()
        mode = TransferMode.BLIND if announce is None else TransferMode.WARM
        session.announce_transferred(target.name, mode)
        return TransferResult(mode=mode)

    @staticmethod
    async def _briefed(leg: _Leg, announce: Announce) -> bool:
        """The summary was heard (True), or the human hung up during it (False)."""
        briefing = asyncio.ensure_future(announce())
        gone = asyncio.ensure_future(leg.ended.wait())
        try:
            await asyncio.wait({briefing, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            if not briefing.done():
                briefing.cancel()
        return not leg.ended.is_set()

    async def _hangup_quietly(self, channel_id: str) -> None:
        try:
            await self._session.controller.ari.hangup(channel_id)
        except AriError as exc:
            if exc.status != 404:
                log.warning("hanging up the transfer leg failed", error=str(exc))
