"""Twilio's HTTP side: the voice webhook, the Media Streams WebSocket and status callbacks.

`twilio_router(...)` returns a Litestar `Router` the process mounts at its root:

* `POST /twilio/voice` - Twilio asks what to do with a call. Signed with the tenant's auth
  token (found by `AccountSid`); answered with `<Connect><Stream>` whose `<Parameter>` is a
  sealed stream token naming tenant, call and agent, or, for an inbound call beyond the
  process's capacity, `<Reject reason="busy"/>` (recorded as failed, announced).
* `WS /twilio/stream` - the call's audio (`stream.serve_stream`).
* `POST /twilio/status` - call progress and async AMD results, signed the same way.

Every signature failure is a 403 before anything is created or changed.
"""

from __future__ import annotations

import uuid
from typing import Any, Final
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape, quoteattr

import asyncpg
import structlog
from litestar import Request, Response, Router, WebSocket, post, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.handlers import WebsocketRouteHandler
from litestar.status_codes import HTTP_204_NO_CONTENT, HTTP_403_FORBIDDEN
from redis.asyncio import Redis

from ari_app.admission import PENDING_S, Admission
from ari_app.call import Call, CallStatus, Direction, InvalidTransition
from ari_app.ports import AgentDirectory, CallEventSink, CallLedger
from ari_app.store_adapters import StoreAgentDirectory
from ari_app.virtual_channel import HandOff
from store.call_records import CallRecordWriter
from store.live_calls import LiveCallStore
from store.secrets import SecretBox
from twilio_adapter.accounts import TwilioAccounts, TwilioCredentials
from twilio_adapter.rest import TwilioRest
from twilio_adapter.runner import TwilioLedger, announce_unanswered
from twilio_adapter.signature import valid_form_request
from twilio_adapter.state import TwilioCall, TwilioCallStore
from twilio_adapter.stream import (
    TOKEN_PARAMETER,
    BadMessage,
    StreamServices,
    serve_stream,
)
from twilio_adapter.token import StreamClaims, StreamTokens
from twilio_adapter.urls import STATUS_PATH, STREAM_PATH, VOICE_PATH, TwilioUrls

log = structlog.get_logger(__name__)

TWIML: Final = "text/xml"
# Twilio's webhook bodies are a few hundred bytes; refuse to buffer anything much larger.
MAX_WEBHOOK_BYTES: Final = 64 * 1024
SIGNATURE_HEADER: Final = "X-Twilio-Signature"
# An inbound call that arrives while the process's local models load waits this long for
# them before it is refused as busy: within Twilio's 15 s webhook timeout, and about what a
# worker takes to load on an idle machine (2 s) several times over.
WARM_WAIT_S: Final = 8.0

# Twilio's CallStatus -> our status, for calls no stream has taken yet.
PROGRESS: Final = {
    "queued": CallStatus.DIALING,
    "initiated": CallStatus.DIALING,
    "ringing": CallStatus.RINGING,
}
UNANSWERED: Final = {
    "busy": CallStatus.BUSY,
    "no-answer": CallStatus.NO_ANSWER,
    "canceled": CallStatus.NO_ANSWER,
    "failed": CallStatus.FAILED,
}


def stream_twiml(stream_url: str, token: str) -> str:
    """`<Connect><Stream>` carrying the token; `<Hangup/>` once our side closes the stream."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Connect>'
        f"<Stream url={quoteattr(stream_url)}>"
        f"<Parameter name={quoteattr(TOKEN_PARAMETER)} value={quoteattr(token)}/>"
        "</Stream></Connect><Hangup/></Response>"
    )


def _twiml(body: str) -> Response[str]:
    return Response(body, media_type=TWIML)


def _reject(reason: str) -> Response[str]:
    return _twiml(
        '<?xml version="1.0" encoding="UTF-8"?><Response>'
        f"<Reject reason={quoteattr(reason)}/></Response>"
    )


def _hangup() -> Response[str]:
    return _twiml('<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>')


def _forbidden(reason: str) -> Response[str]:
    log.warning("Twilio request refused", reason=reason)
    return Response(escape(reason), status_code=HTTP_403_FORBIDDEN, media_type="text/plain")


def _call_id(request: Request[Any, Any, Any]) -> uuid.UUID | None:
    try:
        return uuid.UUID(request.query_params.get("call_id", ""))
    except ValueError:
        return None


def stream_route(services: StreamServices) -> WebsocketRouteHandler:
    """`WS /twilio/stream`: one Media Stream per connection (`stream.serve_stream`)."""

    @websocket(STREAM_PATH)
    async def stream(socket: WebSocket[Any, Any, Any]) -> None:
        await socket.accept()

        async def receive() -> str | None:
            try:
                message = await socket.receive()
            except WebSocketDisconnect:
                return None
            if message["type"] == "websocket.disconnect":
                return None
            text = message.get("text")
            if text is None:
                raise BadMessage("binary frame")
            return str(text)

        async def send(text: str) -> None:
            await socket.send_text(text)

        async def close(code: int, reason: str) -> None:
            if socket.connection_state != "disconnect":
                await socket.close(code, reason)

        await serve_stream(receive, send, close, services)

    return stream


def twilio_router(
    *,
    pool: asyncpg.Pool,
    redis: Redis,
    box: SecretBox,
    public_url: str,
    hand_off: HandOff,
    rest: TwilioRest | None = None,
    ledger: CallLedger | None = None,
    events: CallEventSink | None = None,
    admission: Admission | None = None,
    directory: AgentDirectory | None = None,
) -> Router:
    """The Twilio endpoints. `hand_off` runs a connected call on its leg (the controller);
    `rest` hangs calls up from our side; `ledger` records calls that never streamed and
    `events` announces their end; `admission` refuses inbound calls beyond capacity
    (`directory` says which agents run local models)."""
    urls = TwilioUrls(public_url)
    accounts = TwilioAccounts(pool, redis, box)
    calls = TwilioCallStore(redis)
    tokens = StreamTokens(box)
    records = ledger or TwilioLedger(LiveCallStore(redis), CallRecordWriter(pool, redis), calls)
    services = StreamServices(tokens, calls, accounts, rest, hand_off)
    agents = directory or StoreAgentDirectory(pool, redis)

    async def signed(
        request: Request[Any, Any, Any],
    ) -> tuple[TwilioCredentials, dict[str, str]] | str:
        """The tenant's credentials and the form, or why the request is refused."""
        body = await request.body()
        if len(body) > MAX_WEBHOOK_BYTES:
            return "body too large"
        try:
            pairs = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=bool(body))
        except (UnicodeDecodeError, ValueError):
            return "malformed form body"
        form = dict(pairs)
        creds = await accounts.for_account_sid(form.get("AccountSid", ""))
        if creds is None:
            return "unknown AccountSid"
        signature = request.headers.get(SIGNATURE_HEADER)
        if not valid_form_request(creds.auth_token, urls.requested(request), pairs, signature):
            return "missing or invalid X-Twilio-Signature"
        return creds, form

    @post(VOICE_PATH, status_code=200, include_in_schema=False)
    async def voice(request: Request[Any, Any, Any]) -> Response[str]:
        checked = await signed(request)
        if isinstance(checked, str):
            return _forbidden(checked)
        creds, form = checked
        call_sid = form.get("CallSid", "")
        call_id = _call_id(request)
        if call_id is None:
            state = await _inbound(creds, form)
            if state is None:
                log.info("Twilio call to a number no agent has", to=form.get("To"))
                return _reject("rejected")
            refusal = await _admit(state.call)
            if refusal is not None:
                return await _refuse(state.call, refusal)
            await calls.put(state)  # live and recorded once its stream connects
        else:
            state = await calls.get(call_id)
            if state is None or state.call.tenant_id != creds.tenant_id:
                return _hangup()
            if state.call_sid and state.call_sid != call_sid:
                return _hangup()
            answered_by = form.get("AnsweredBy")
            if answered_by:
                await calls.record_amd(call_id, answered_by)
        call = state.call
        claims = StreamClaims(
            tenant_id=call.tenant_id,
            call_id=call.id,
            agent_id=call.agent_id,
            call_sid=call_sid,
            direction=call.direction.value,
            from_number=call.from_number,
            to_number=call.to_number,
        )
        return _twiml(stream_twiml(urls.stream, tokens.issue(claims)))

    async def _inbound(creds: TwilioCredentials, form: dict[str, str]) -> TwilioCall | None:
        number = await accounts.number(creds.tenant_id, form.get("To", ""))
        if number is None:
            return None
        call = Call(
            id=uuid.uuid4(),
            tenant_id=number.tenant_id,
            agent_id=number.agent_id,
            direction=Direction.INBOUND,
            from_number=form.get("From", ""),
            to_number=number.did,
            status=CallStatus.RINGING,
            metadata={"twilio_call_sid": form.get("CallSid", "")},
        )
        return TwilioCall(call=call, call_sid=form.get("CallSid", ""))

    async def _admit(call: Call) -> str | None:
        """None when the process has room for `call` (its slot pending until the stream
        connects), else why not."""
        if admission is None:
            return None
        await admission.until_warm(WARM_WAIT_S)
        local = 0.0
        if admission.has_room():  # else refused whatever the agent runs
            route = await agents.route_for_agent(call.tenant_id, call.agent_id)
            local = route.local_weight if route is not None else 0.0
        return admission.admit(call.id, local=local, pending_s=PENDING_S)

    async def _refuse(call: Call, reason: str) -> Response[str]:
        """Busy to the caller; the call recorded as failed with `reason` and announced."""
        log.warning(
            "refusing a Twilio call",
            reason=reason,
            call_id=str(call.id),
            tenant_id=str(call.tenant_id),
        )
        call.error = reason
        call.to(CallStatus.FAILED)
        await records.finish(call, None)
        await announce_unanswered(events, call)
        return _reject("busy")

    @post(STATUS_PATH, status_code=200, include_in_schema=False)
    async def status(request: Request[Any, Any, Any]) -> Response[str]:
        checked = await signed(request)
        if isinstance(checked, str):
            return _forbidden(checked)
        creds, form = checked
        call_id = _call_id(request)
        state = None if call_id is None else await calls.get(call_id)
        if state is None or state.call.tenant_id != creds.tenant_id:
            return Response("", status_code=HTTP_204_NO_CONTENT)
        call = state.call
        answered_by = form.get("AnsweredBy")
        if answered_by:
            await calls.record_amd(call.id, answered_by)
        twilio_status = form.get("CallStatus", "")
        if twilio_status and not await calls.streamed(call.id):
            await _progress(state, twilio_status, form)
        return Response("", status_code=HTTP_204_NO_CONTENT)

    async def _progress(state: TwilioCall, twilio_status: str, form: dict[str, str]) -> None:
        """A call no stream has taken: follow it, and record it if it ended that way."""
        call = state.call
        if form.get("CallSid") and not state.call_sid:
            state.call_sid = form["CallSid"]
        target = PROGRESS.get(twilio_status) or UNANSWERED.get(twilio_status)
        try:
            if target is not None:
                call.to(target)
            elif twilio_status == "completed":
                call.error = call.error or "the media stream never connected"
                call.to(CallStatus.ANSWERED)
                call.to(CallStatus.COMPLETED)
        except InvalidTransition as exc:
            log.info("Twilio status ignored", call_id=str(call.id), error=str(exc))
            return
        await calls.put(state)
        if call.finished:
            if admission is not None:
                admission.release(call.id)
            await records.finish(call, None)
            await announce_unanswered(events, call)
        else:
            await records.save(call)

    return Router(path="/", route_handlers=[voice, status, stream_route(services)])
