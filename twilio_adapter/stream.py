"""One Media Streams WebSocket, from `connected` to `stop` (PROTOCOLS.md §7.2).

The `start` message must carry a valid stream token (issued by the voice webhook) for the
very CallSid it names; the stream then becomes a `TwilioLeg` handed to the controller. Bad
input closes this stream only, with a log line: no token or a bad one closes with 1008, as do
malformed JSON, bad base64 and oversized messages.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

import msgspec
import structlog

from ari_app.call import Call, CallStatus, Direction
from ari_app.virtual_channel import AMD_HUMAN, HandOff
from media.lead_paced_leg import CLOSE_ERROR, CLOSE_POLICY
from twilio_adapter.accounts import TwilioAccounts
from twilio_adapter.dtmf import InbandDtmf
from twilio_adapter.leg import TwilioLeg
from twilio_adapter.messages import (
    KNOWN_EVENTS,
    Connected,
    DtmfEvent,
    Envelope,
    MarkEvent,
    Media,
    Start,
    Stop,
    TwilioMessage,
)
from twilio_adapter.rest import TwilioApiError, TwilioRest
from twilio_adapter.runner import amd_status
from twilio_adapter.state import TwilioCall, TwilioCallStore
from twilio_adapter.token import InvalidToken, StreamClaims, StreamTokens
from twilio_adapter.transfer import TwilioTransfer

log = structlog.get_logger(__name__)

TOKEN_PARAMETER: Final = "token"
# Twilio sends ~300-byte media messages and a start of well under 2 KB; anything near this is
# not Twilio.
MAX_MESSAGE_CHARS: Final = 16 * 1024
# A media payload longer than a second of µ-law is not a 20 ms chunk.
MAX_PAYLOAD_BYTES: Final = 8000
# Twilio sends `start` right after `connected`.
START_TIMEOUT_S: Final = 10.0
MAX_MESSAGES_BEFORE_START: Final = 2
# Twilio's MachineDetectionTimeout default is 30 s; a result later than this is treated as a
# person (better to talk to a voicemail box than to hang up on someone).
AMD_WAIT_S: Final = 35.0
EXPECTED_ENCODING: Final = "audio/x-mulaw"
DTMF_DIGITS: Final = frozenset("0123456789*#ABCD")

Receive = Callable[[], Awaitable[str | None]]  # None: the peer closed the socket
SendText = Callable[[str], Awaitable[None]]
Close = Callable[[int, str], Awaitable[None]]


class BadMessage(Exception):
    """The peer sent something that is not a valid Media Streams message."""


@dataclass(frozen=True, slots=True)
class StreamServices:
    tokens: StreamTokens
    calls: TwilioCallStore
    accounts: TwilioAccounts
    rest: TwilioRest | None
    hand_off: HandOff
    amd_wait_s: float = AMD_WAIT_S


_decoder = msgspec.json.Decoder(TwilioMessage)
_envelope = msgspec.json.Decoder(Envelope)


def decode(text: str) -> TwilioMessage | None:
    """A message, or None for an event type we do not know (skipped). Raises BadMessage."""
    if len(text) > MAX_MESSAGE_CHARS:
        raise BadMessage(f"message of {len(text)} characters")
    try:
        message: TwilioMessage = _decoder.decode(text)
    except msgspec.DecodeError as exc:
        try:
            event = _envelope.decode(text).event
        except msgspec.DecodeError:
            raise BadMessage(f"malformed message: {exc}") from exc
        if event in KNOWN_EVENTS:
            raise BadMessage(f"malformed {event!r} message: {exc}") from exc
        return None
    return message


async def serve_stream(receive: Receive, send: SendText, close: Close, svc: StreamServices) -> None:
    """Run one stream to its end; never raises for anything the peer does."""
    try:
        start = await asyncio.wait_for(_await_start(receive), START_TIMEOUT_S)
        claims = _authorise(start, svc.tokens)
    except (BadMessage, InvalidToken, TimeoutError) as exc:
        log.warning("Twilio stream refused", reason=str(exc) or type(exc).__name__)
        await close(CLOSE_POLICY, "stream refused")
        return
    except _PeerGone:
        return
    info = start.start
    bound = log.bind(call_id=str(claims.call_id), tenant_id=str(claims.tenant_id),
                     call_sid=info.callSid, stream_sid=info.streamSid)  # fmt: skip
    if not await svc.calls.claim_stream(claims.call_id):
        bound.warning("Twilio stream refused: the call already has a stream")
        await close(CLOSE_POLICY, "stream refused")
        return
    state = await svc.calls.get(claims.call_id)
    call = _call_for(claims, state)
    amd = state is not None and state.amd and call.amd_status is None

    control = None
    if svc.rest is not None:
        control = TwilioTransfer(call, info.callSid, svc.accounts, svc.rest)

    async def end_call() -> None:
        if control is not None and control.target is not None:
            return  # transferred: the call is Twilio's <Dial> now, not ours to end
        await _hang_up(call, info.callSid, svc, bound)

    leg = TwilioLeg(info.streamSid, send, close, end_call=end_call)
    task = asyncio.create_task(_run_call(call, leg, control, svc, wait_amd=amd, log=bound))
    bound.info("Twilio stream started")
    try:
        await _pump(receive, leg, bound)
    finally:
        if not leg.closed:  # the handler was cancelled (server shutdown): end the call here
            leg.on_disconnect()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(task)
    await leg.closed_and_flushed()


class _PeerGone(Exception):
    pass


async def _await_start(receive: Receive) -> Start:
    for _ in range(MAX_MESSAGES_BEFORE_START + 1):
        text = await receive()
        if text is None:
            raise _PeerGone
        message = decode(text)
        if isinstance(message, Start):
            return message
        if not isinstance(message, Connected):
            raise BadMessage(f"{type(message).__name__} before start")
    raise BadMessage("no start message")


def _authorise(start: Start, tokens: StreamTokens) -> StreamClaims:
    info = start.start
    token = info.customParameters.get(TOKEN_PARAMETER)
    if not token:
        raise InvalidToken("stream without a token")
    claims = tokens.open(token)
    if claims.call_sid and claims.call_sid != info.callSid:
        raise InvalidToken("token issued for another call")
    fmt = info.mediaFormat
    if fmt.encoding != EXPECTED_ENCODING or fmt.sampleRate != 8000 or fmt.channels != 1:
        raise BadMessage(f"unsupported media format {fmt}")
    return claims


def _call_for(claims: StreamClaims, state: TwilioCall | None) -> Call:
    """The call the webhook recorded, or (if its state expired) the one the token names."""
    if state is not None and state.call.tenant_id == claims.tenant_id:
        return state.call
    return Call(
        id=claims.call_id,
        tenant_id=claims.tenant_id,
        agent_id=claims.agent_id,
        direction=Direction(claims.direction),
        from_number=claims.from_number,
        to_number=claims.to_number,
        status=CallStatus.RINGING,
    )


async def _run_call(
    call: Call,
    leg: TwilioLeg,
    control: TwilioTransfer | None,
    svc: StreamServices,
    *,
    wait_amd: bool,
    log: structlog.BoundLogger,
) -> None:
    try:
        if wait_amd:
            answered_by = await svc.calls.wait_amd(call.id, svc.amd_wait_s)
            call.amd_cause = answered_by or "timeout"
            call.amd_status = amd_status(answered_by) if answered_by else AMD_HUMAN
            log.info("AMD result", answered_by=call.amd_cause)
        await svc.hand_off(call, leg, control=control, dtmf=InbandDtmf(leg))
    except Exception:
        log.exception("Twilio call hand-off failed")
    finally:
        await leg.hangup()


async def _pump(receive: Receive, leg: TwilioLeg, log: structlog.BoundLogger) -> None:
    """Feed Twilio's messages to the leg until stop, close or bad input."""
    b64decode = base64.b64decode
    while not leg.closed:
        try:
            text = await receive()
        except BadMessage as exc:
            log.warning("Twilio stream closed on bad input", reason=str(exc))
            leg.fail(f"bad input: {exc}")
            return
        except Exception as exc:
            leg.fail(f"stream receive failed: {exc!r}", CLOSE_ERROR)
            return
        if text is None:
            leg.on_disconnect()
            return
        try:
            message = decode(text)
            if isinstance(message, Media):
                if message.media.track not in ("inbound", "inbound_track"):
                    continue
                payload = message.media.payload
                if len(payload) > MAX_PAYLOAD_BYTES * 4 // 3 + 4:
                    raise BadMessage(f"media payload of {len(payload)} characters")
                leg.on_media(b64decode(payload, validate=True))
            elif isinstance(message, MarkEvent):
                leg.on_mark(message.mark.name)
            elif isinstance(message, DtmfEvent):
                if message.dtmf.digit not in DTMF_DIGITS:
                    raise BadMessage(f"dtmf digit {message.dtmf.digit!r}")
                leg.on_dtmf(message.dtmf.digit)
            elif isinstance(message, Stop):
                leg.on_stop()
                return
            elif isinstance(message, Start):
                raise BadMessage("second start message")
        except (BadMessage, binascii.Error, ValueError) as exc:
            log.warning("Twilio stream closed on bad input", reason=str(exc))
            leg.fail(f"bad input: {exc}")
            return


async def _hang_up(
    call: Call, call_sid: str, svc: StreamServices, log: structlog.BoundLogger
) -> None:
    """We end the call: `Status=completed` through the REST API (Twilio then stops the
    stream). Without a REST client, closing the stream ends it through the TwiML's `<Hangup/>`."""
    if svc.rest is None:
        return
    creds = await svc.accounts.for_tenant(call.tenant_id)
    if creds is None:
        return
    try:
        await svc.rest.hangup(creds, call_sid)
    except TwilioApiError as exc:
        log.info("Twilio hangup not applied", status=exc.status, error=exc.message)
