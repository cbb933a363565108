"""One browser call's socket, from its `start` message to its close.

The first message must be `start` with a token minted for the agent the socket's path names,
used from the token's allowed origin; the socket then becomes a `WebLeg` handed to the
controller as a virtual channel. Bad input closes this socket only, with a reason: a refused
token with 1008, an oversized message with 1009, a full process with 1013.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

import structlog

from ari_app.admission import PENDING_S, Admission
from ari_app.call import Call, CallStatus, Direction
from ari_app.call_events import record_never_dialled
from ari_app.ports import AgentDirectory, CallEventSink, CallLedger
from ari_app.virtual_channel import HandOff
from media.lead_paced_leg import CLOSE_ERROR, CLOSE_POLICY
from store.models import Agent
from store.web_call_tokens import TokenRefused, WebCallGrant, WebCallTokens
from web_calls.leg import WebLeg
from web_calls.protocol import (
    CLOSE_TOO_BIG,
    MAX_CALL_S,
    BadMessage,
    HangupMessage,
    MarkMessage,
    StartMessage,
    TooBig,
    check_audio,
    decode_text,
    server_message,
)

log = structlog.get_logger(__name__)

# The page sends `start` as soon as its socket opens.
START_TIMEOUT_S: Final = 10.0
CLOSE_TRY_LATER: Final = 1013  # RFC 6455 registry: the server is overloaded
# What a web call shows where a phone call shows the caller's number.
FROM_WEB: Final = "web"

# The peer's next message: audio bytes, text, or None once it closed the socket.
Receive = Callable[[], Awaitable[bytes | str | None]]
Send = Callable[[bytes | str], Awaitable[None]]
Close = Callable[[int, str], Awaitable[None]]


@dataclass
class LiveWebCalls:
    """This process's browser calls by id: their leg and tenant and, for an admin's test, the
    draft agent they run instead of the stored one."""

    legs: dict[uuid.UUID, WebLeg] = field(default_factory=dict)
    tenants: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)
    drafts: dict[uuid.UUID, Agent] = field(default_factory=dict)

    async def hang_up(self, tenant_id: uuid.UUID, call_id: uuid.UUID) -> bool:
        """End a live browser call of this tenant; False when this process does not hold it."""
        leg = self.legs.get(call_id)
        if leg is None or self.tenants.get(call_id) != tenant_id:
            return False
        await leg.hangup()
        return True


@dataclass(frozen=True, slots=True)
class WebCallServices:
    tokens: WebCallTokens
    hand_off: HandOff
    directory: AgentDirectory
    ledger: CallLedger
    live: LiveWebCalls
    events: CallEventSink | None = None
    admission: Admission | None = None
    max_call_s: float = MAX_CALL_S


async def serve_socket(
    agent_id: uuid.UUID,
    origin: str | None,
    receive: Receive,
    send: Send,
    close: Close,
    svc: WebCallServices,
) -> None:
    """Run one browser call to its end; never raises for anything the peer does."""
    try:
        token = await asyncio.wait_for(_await_start(receive), START_TIMEOUT_S)
        grant = await svc.tokens.redeem(token, agent_id=agent_id, origin=origin)
    except (BadMessage, TokenRefused, TimeoutError) as exc:
        reason = str(exc) or "no start message in time"
        log.warning("web call refused", agent_id=str(agent_id), origin=origin, reason=reason)
        await close(CLOSE_POLICY, reason[:120])
        return
    except _PeerGone:
        return
    call = _call_for(grant)
    bound = log.bind(call_id=str(call.id), tenant_id=str(call.tenant_id), origin=origin)
    refusal = await _admit(call, svc)
    if refusal is not None:
        bound.warning("web call refused", reason=refusal)
        call.error = refusal
        await record_never_dialled(call, svc.ledger, svc.events)
        await close(CLOSE_TRY_LATER, refusal)
        return
    leg = WebLeg(str(call.id), send, close)
    svc.live.legs[call.id] = leg
    svc.live.tenants[call.id] = call.tenant_id
    if grant.draft is not None:
        svc.live.drafts[call.id] = grant.draft
    leg.notify(server_message("started", call_id=str(call.id), draft=grant.draft is not None))
    task = asyncio.create_task(_run_call(call, leg, svc, bound))
    bound.info("web call started", draft=grant.draft is not None, actor=grant.actor)
    limit = asyncio.get_running_loop().call_later(
        svc.max_call_s, leg.fail, f"call longer than {svc.max_call_s:g} s", CLOSE_POLICY
    )
    try:
        await _pump(receive, leg, bound)
        if leg.failed:  # bad input or a dead socket: the record says so (set before it is written)
            call.error = call.error or leg.close_reason
    finally:
        limit.cancel()
        if not leg.closed:  # the handler was cancelled (server shutdown): end the call here
            leg.on_disconnect("server shutting down")
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(task)
        svc.live.legs.pop(call.id, None)
        svc.live.tenants.pop(call.id, None)
        svc.live.drafts.pop(call.id, None)
    await leg.closed_and_flushed()


class _PeerGone(Exception):
    pass


async def _await_start(receive: Receive) -> str:
    message = await receive()
    if message is None:
        raise _PeerGone
    if not isinstance(message, str):
        raise BadMessage("audio before the start message")
    decoded = decode_text(message)
    if not isinstance(decoded, StartMessage):
        raise BadMessage(f"{type(decoded).__name__} before the start message")
    return decoded.token


def _call_for(grant: WebCallGrant) -> Call:
    metadata = {**grant.variables, "web_origin": grant.origin}
    if grant.draft is not None:
        metadata["web_draft"] = "true"
    return Call(
        id=uuid.uuid4(),
        tenant_id=grant.tenant_id,
        agent_id=grant.agent_id,
        direction=Direction.INBOUND,
        from_number=FROM_WEB,
        status=CallStatus.RINGING,
        metadata=metadata,
    )


async def _admit(call: Call, svc: WebCallServices) -> str | None:
    """None when this process takes the call (its slot pending until the hand-off holds it)."""
    route = await svc.directory.route_for_agent(call.tenant_id, call.agent_id)
    if route is None:
        return "the agent no longer exists"
    if svc.admission is None:
        return None
    return svc.admission.admit(call.id, local=route.local_weight, pending_s=PENDING_S)


async def _run_call(
    call: Call, leg: WebLeg, svc: WebCallServices, log: structlog.BoundLogger
) -> None:
    try:
        await svc.hand_off(call, leg)
    except Exception:
        log.exception("web call hand-off failed")
    finally:
        await leg.hangup()


async def _pump(receive: Receive, leg: WebLeg, log: structlog.BoundLogger) -> None:
    """Feed the browser's messages to the leg until hangup, close or bad input."""
    while not leg.closed:
        try:
            message = await receive()
        except TooBig as exc:
            leg.fail(f"bad input: {exc}", CLOSE_TOO_BIG)
            return
        except Exception as exc:
            leg.fail(f"socket receive failed: {exc!r}", CLOSE_ERROR)
            return
        if message is None:
            leg.on_disconnect()
            return
        try:
            if isinstance(message, bytes):
                leg.on_audio(check_audio(message))
                continue
            decoded = decode_text(message)
            if isinstance(decoded, MarkMessage):
                leg.on_mark(decoded.name)
            elif isinstance(decoded, HangupMessage):
                leg.on_disconnect("the caller hung up")
                return
            else:
                raise BadMessage("a second start message")
        except BadMessage as exc:
            log.warning("web call closed on bad input", reason=str(exc))
            leg.fail(
                f"bad input: {exc}", CLOSE_TOO_BIG if isinstance(exc, TooBig) else CLOSE_POLICY
            )
            return
