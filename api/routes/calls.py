"""Calls: the record of every call, outbound origination through the Redis queue, hangup."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Router, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody
from litestar.response import ServerSentEvent
from litestar.status_codes import HTTP_202_ACCEPTED

from api.auth import Principal, authenticate, authenticate_writer
from api.call_analysis import CallAnalysisOut, analysis_out, cost_out, summary_extras
from api.call_filters import CallFilters, Direction, call_filters
from api.common import DEFAULT_LIMIT, Limit, Offset, audit
from api.context import ApiContext
from api.errors import ApiError, FieldError, invalid_fields, not_found, problems
from api.live_calls import follow, is_live, live_call_fields
from api.routes.do_not_call import refused_by_list
from providers.pricing import CallCost
from store.call_records import tenant_dead_letters
from store.live_calls import LiveCallStore
from store.models import CallRecord
from store.numbers import normalize_number
from store.outbound_queue import OutboundJob, OutboundQueue
from store.repositories.calls import CallRepository, SttEventRepository
from store.repositories.config import AgentRepository, SipTrunkRepository
from store.repositories.do_not_call import DoNotCallRepository
from store.repositories.twilio import TwilioAccountRepository

# A dialable number: E.164 with or without `+`, or a short extension.
PhoneNumber = Annotated[str, msgspec.Meta(pattern=r"^\+?[0-9]{2,20}$")]
VariableName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
VariableValue = Annotated[str, msgspec.Meta(max_length=1_000)]
# Enough for a CRM's worth of context; beyond this the LLM prompt would not hold it anyway.
MAX_VARIABLES = 50
# Statuses after which there is nothing left to hang up.
# The controller's final statuses (ari_app.call.CallStatus) plus the API's own "cancelled".
FINISHED_STATUSES = frozenset(
    {"completed", "failed", "cancelled", "no-answer", "busy", "voicemail"}
)
QUEUED = "queued"
MAX_STT_EVENTS = 200


class CallSummary(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    agent_id: uuid.UUID | None
    trunk_id: uuid.UUID | None
    direction: Direction
    transport: str
    from_number: str
    to_number: str
    status: str
    outcome: str | None
    queued_at: datetime | None
    started_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    duration_ms: int | None
    error_reason: str | None
    created_at: datetime
    # What the call cost in `CallCost.currency` (None until the post-call worker priced it).
    cost_total: float | None = None
    # The post-call analysis' verdict on the agent's success criteria, when it gave one.
    success: bool | None = None


class SttEventOut(msgspec.Struct, kw_only=True):
    kind: str
    vendor: str
    detail: str
    created_at: datetime


class CallDetail(CallSummary, kw_only=True):
    """A call with its transcript, per-turn latency breakdown, events and provider usage;
    `live` while it is in progress (its transcript so far, from the live state)."""

    transcript: list[dict[str, Any]]
    turns: list[dict[str, Any]]
    events: list[dict[str, Any]]
    provider_usage: dict[str, Any]
    variables: dict[str, Any]
    stt_events: list[SttEventOut]
    recording_url: str | None
    analysis: CallAnalysisOut | None = None
    cost: CallCost | None = None
    live: bool = False


class LiveCall(msgspec.Struct, kw_only=True):
    """A call in progress, with the live state its controller keeps in Redis."""

    id: uuid.UUID
    state: dict[str, Any]


class LiveCalls(msgspec.Struct, kw_only=True):
    items: list[LiveCall]


class DeadLetterCall(msgspec.Struct, kw_only=True):
    """A finished call whose record PostgreSQL refused as invalid (so it is in no call list),
    kept with the reason for an admin to look at."""

    id: uuid.UUID
    agent_id: uuid.UUID | None
    direction: str
    from_number: str
    to_number: str
    status: str
    started_at: datetime | None
    ended_at: datetime | None
    error_reason: str | None
    reason: str
    refused_at: datetime


class DeadLetterCalls(msgspec.Struct, kw_only=True):
    items: list[DeadLetterCall]


class CallList(msgspec.Struct, kw_only=True):
    items: list[CallSummary]
    total: int
    limit: int
    offset: int


class OriginateRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Dial `to` with an agent; `schedule_at` delays the call (omitted: as soon as possible)."""

    agent_id: uuid.UUID
    to: PhoneNumber
    from_: PhoneNumber | None = msgspec.field(default=None, name="from")
    trunk_id: uuid.UUID | None = None
    variables: Annotated[
        dict[VariableName, VariableValue], msgspec.Meta(max_length=MAX_VARIABLES)
    ] = msgspec.field(default_factory=dict)
    schedule_at: datetime | None = None
    # Call `to` even when it is on the tenant's do-not-call list (recorded in the audit log).
    override_do_not_call: bool = False


class Originated(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    status: str
    scheduled_at: datetime | None


class HangupResult(msgspec.Struct, kw_only=True):
    """`cancelled`: the call was still queued; `hangup_requested`: a live call is ending."""

    id: uuid.UUID
    result: Literal["cancelled", "hangup_requested"]


def _summary_fields(row: CallRecord) -> dict[str, Any]:
    fields = {f: getattr(row, f) for f in CallSummary.__struct_fields__ if hasattr(row, f)}
    return {**fields, **summary_extras(row)}


def _summary(row: CallRecord) -> CallSummary:
    return msgspec.convert(_summary_fields(row), CallSummary, strict=False)


@get(
    "/",
    operation_id="listCalls",
    responses=problems(400, 401, 429),
    dependencies={"filters": Provide(call_filters)},
)
async def list_calls(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    filters: NamedDependency[CallFilters],
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
) -> CallList:
    """Calls, the latest to begin first by default (see the filters' parameters)."""
    page = await CallRepository(context.pool).search(
        principal.tenant_id,
        filters=filters.columns,
        since=filters.since,
        until=filters.until,
        text=filters.text,
        number=filters.number,
        sort=filters.sort,
        limit=limit,
        offset=offset,
    )
    return CallList(
        items=[_summary(r) for r in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@get("/live", operation_id="listLiveCalls", responses=problems(401, 429))
async def list_live_calls(
    principal: NamedDependency[Principal], context: NamedDependency[ApiContext]
) -> LiveCalls:
    """Calls in progress right now, across every process of the deployment."""
    store = LiveCallStore(context.redis)
    items = []
    for call_id in await store.live_call_ids(principal.tenant_id):
        state = await store.get(call_id)
        if state is not None and state.get("tenant_id") == str(principal.tenant_id):
            items.append(LiveCall(id=call_id, state=state))
    return LiveCalls(items=items)


@get("/dead-letters", operation_id="listDeadLetterCalls", responses=problems(401, 403, 429))
async def list_dead_letter_calls(
    principal: NamedDependency[Principal], context: NamedDependency[ApiContext]
) -> DeadLetterCalls:
    """Records of this tenant's calls that PostgreSQL refused as invalid (owners and admins)."""
    if not principal.can_write:
        raise ApiError(403, f"role {principal.role!r} cannot read dead letters")
    items = []
    for letter in await tenant_dead_letters(context.redis, principal.tenant_id):
        record = letter.record
        items.append(
            DeadLetterCall(
                id=record.id,
                agent_id=record.agent_id,
                direction=record.direction,
                from_number=record.from_number,
                to_number=record.to_number,
                status=record.status,
                started_at=record.started_at,
                ended_at=record.ended_at,
                error_reason=record.error_reason,
                reason=letter.reason,
                refused_at=letter.at,
            )
        )
    return DeadLetterCalls(items=items)


@get("/{call_id:uuid}", operation_id="getCall", responses=problems(401, 404, 429))
async def get_call(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    call_id: FromPath[uuid.UUID],
) -> CallDetail:
    """The call's record, or while it is in progress its live state (`live` true)."""
    row = await CallRepository(context.pool).get(principal.tenant_id, call_id)
    if row is None or row.status not in FINISHED_STATUSES:
        live = await live_call_fields(context.redis, principal.tenant_id, call_id, row)
        if live is not None:
            return msgspec.convert(live, CallDetail, strict=False)
    if row is None:
        raise not_found("call")
    stt = await SttEventRepository(context.pool).list_page(
        principal.tenant_id, filters={"call_id": call_id}, sort="created_at", limit=MAX_STT_EVENTS
    )
    return msgspec.convert(
        {
            **_summary_fields(row),
            "transcript": row.transcript,
            "turns": row.turns,
            "events": row.events,
            "provider_usage": row.provider_usage,
            "variables": row.variables,
            "stt_events": [msgspec.structs.asdict(e) for e in stt.items],
            "recording_url": f"/api/v1/calls/{row.id}/recording" if row.recording_path else None,
            "analysis": analysis_out(row),
            "cost": cost_out(row),
        },
        CallDetail,
        strict=False,
    )


async def _trunk_errors(
    context: ApiContext, tenant_id: uuid.UUID, agent_id: uuid.UUID, trunk_id: uuid.UUID | None
) -> list[FieldError]:
    """The trunk the call goes out on: the one named, else the tenant's only one. An agent
    with a Twilio number calls through Twilio and needs none."""
    trunks = SipTrunkRepository(context.pool, context.box)
    if trunk_id is not None:
        if await trunks.get(tenant_id, trunk_id) is None:
            return [FieldError("trunk_id", "no SIP trunk with this id")]
        return []
    count = (await trunks.list_page(tenant_id, limit=1)).total
    if count < 2:
        return []
    if await TwilioAccountRepository(context.pool, context.box).agent_twilio_number(
        tenant_id, agent_id
    ):
        return []
    return [
        FieldError("trunk_id", f"this tenant has {count} SIP trunks: set trunk_id to choose one")
    ]


@get(
    "/{call_id:uuid}/live",
    operation_id="followCall",
    summary="Follow a call in progress (server-sent events)",
    media_type="text/event-stream",
    responses=problems(401, 404, 429),
)
async def follow_call(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    call_id: FromPath[uuid.UUID],
) -> ServerSentEvent:
    """`call` events carrying the call's detail (as `GET /calls/{id}`) at once and after every
    change, then `ended` when the call is over and its record is the one to read."""
    row = await CallRepository(context.pool).get(principal.tenant_id, call_id)

    async def snapshot() -> bytes | None:
        live = await live_call_fields(context.redis, principal.tenant_id, call_id, row)
        return (
            None
            if live is None
            else msgspec.json.encode(msgspec.convert(live, CallDetail, strict=False))
        )

    if not await is_live(context.redis, principal.tenant_id, call_id):
        raise ApiError(404, "no call in progress with this id")
    return ServerSentEvent(follow(context.redis, call_id, snapshot))


@post(
    "/",
    operation_id="originateCall",
    summary="Queue an outbound call",
    status_code=HTTP_202_ACCEPTED,
    responses=problems(400, 401, 403, 409, 422, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def originate(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    data: JSONBody[OriginateRequest],
) -> Originated:
    tenant_id = principal.tenant_id
    errors: list[FieldError] = []
    if await AgentRepository(context.pool).get(tenant_id, data.agent_id) is None:
        errors.append(FieldError("agent_id", "no agent with this id"))
    else:
        errors += await _trunk_errors(context, tenant_id, data.agent_id, data.trunk_id)
    schedule_at = data.schedule_at
    if schedule_at is not None and schedule_at.tzinfo is None:
        schedule_at = schedule_at.replace(tzinfo=UTC)
    if errors:
        raise invalid_fields(errors)
    call_id = uuid.uuid4()
    to_number = normalize_number(data.to)
    listed = await DoNotCallRepository(context.pool).find(tenant_id, to_number)
    if listed is not None and not data.override_do_not_call:
        raise refused_by_list(to_number)
    from_number = normalize_number(data.from_) if data.from_ else ""
    record = CallRecord(
        id=call_id,
        tenant_id=tenant_id,
        agent_id=data.agent_id,
        trunk_id=data.trunk_id,
        direction="outbound",
        from_number=from_number,
        to_number=to_number,
        status=QUEUED,
        queued_at=datetime.now(UTC),
        variables=dict(data.variables),
    )
    await CallRepository(context.pool).upsert(record)
    await OutboundQueue(context.redis).enqueue(
        OutboundJob(
            call_id=call_id,
            tenant_id=tenant_id,
            agent_id=data.agent_id,
            to_number=to_number,
            from_number=from_number,
            trunk_id=data.trunk_id,
            variables=dict(data.variables),
            not_before=schedule_at.timestamp() if schedule_at else 0.0,
            override_do_not_call=listed is not None,
        )
    )
    await audit(
        context,
        principal,
        "originate",
        "call",
        call_id,
        after={
            "agent_id": str(data.agent_id),
            "to": data.to,
            "schedule_at": str(schedule_at),
            **({"do_not_call_overridden": True} if listed is not None else {}),
        },
    )
    return Originated(id=call_id, status=QUEUED, scheduled_at=schedule_at)


@post(
    "/{call_id:uuid}/hangup",
    operation_id="hangupCall",
    summary="Cancel a queued call or hang up a live one",
    status_code=HTTP_202_ACCEPTED,
    responses=problems(401, 403, 404, 409, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def hangup(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    call_id: FromPath[uuid.UUID],
) -> HangupResult:
    tenant_id = principal.tenant_id
    calls = CallRepository(context.pool)
    row = await calls.get(tenant_id, call_id)
    # A live inbound call has no record until it ends.
    if row is None and not await is_live(context.redis, tenant_id, call_id):
        raise not_found("call")
    if row is not None and row.status in FINISHED_STATUSES:
        raise ApiError(409, f"the call has already ended ({row.status})")
    if (
        row is not None
        and row.status == QUEUED
        and await OutboundQueue(context.redis).cancel(call_id)
    ):
        await calls.update(
            tenant_id,
            call_id,
            {"status": "cancelled", "outcome": "cancelled", "ended_at": datetime.now(UTC)},
        )
        await audit(context, principal, "cancel", "call", call_id)
        return HangupResult(id=call_id, result="cancelled")
    if context.hangup_call is None or not await context.hangup_call(tenant_id, call_id):
        raise ApiError(409, "the call is not live on this deployment")
    await audit(context, principal, "hangup", "call", call_id)
    return HangupResult(id=call_id, result="hangup_requested")


router = Router(
    path="/calls",
    route_handlers=[
        list_calls,
        list_live_calls,
        list_dead_letter_calls,
        get_call,
        follow_call,
        originate,
        hangup,
    ],
    tags=["calls"],
    security=[{"bearer": []}],
    dependencies={"principal": Provide(authenticate)},
)
