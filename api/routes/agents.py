"""Agents: what a phone call talks to, and the numbers that reach it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Router, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT

from api.agent_analysis import AgentAnalysis, analysis_problems
from api.agent_tools import (
    AgentMcpServer,
    AgentMcpServers,
    AgentToolOut,
    AgentTools,
    mcp_server_problems,
    sealed_tools,
    tool_problems,
)
from api.agent_transfer import AgentTransfer, transfer_problems
from api.auth import Principal, authenticate, authenticate_writer
from api.common import DEFAULT_LIMIT, MAX_FILTER_CHARS, Limit, Offset, audit, sort_param
from api.context import ApiContext
from api.errors import ApiError, FieldError, invalid_fields, not_found, problems
from api.provider_choice import ProviderChoice, resolve_choice
from api.reprovision import ReloadStatus, reprovision
from providers.base import ProviderKind
from store.config_cache import ConfigCache, agent_cache_name, did_cache_name
from store.models import Agent, InboundRoute
from store.numbers import normalize_number
from store.repositories.config import AgentRepository, InboundRouteRepository
from store.repositories.twilio import number_cache_name

BargeIn = Literal["very_low", "low", "medium", "high", "very_high"]
VoicemailPolicy = Literal["hangup", "leave_message"]
# How Asterisk's external media reaches Vocals; None (null) is the server's default.
MediaTransport = Literal["audiosocket", "rtp"]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Prompt = Annotated[str, msgspec.Meta(max_length=20_000)]
Message = Annotated[str, msgspec.Meta(max_length=2_000)]
Language = Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}$")]
Did = Annotated[str, msgspec.Meta(pattern=r"^\+?[0-9]{1,20}$")]
EndOfSpeechMs = Annotated[int, msgspec.Meta(ge=100, le=5_000)]
# `silence`: the turn ends after the end-of-speech silence; `smart`: by whether it is finished.
TurnDetection = Literal["silence", "smart"]
# What calls caller audio speech: webrtcvad, or Silero (noisy lines; more CPU, in the workers).
Vad = Literal["webrtc", "silero"]
# What cleans caller audio before the VAD and the recognizer: nothing, or WebRTC's suppressor.
NoiseSuppression = Literal["off", "webrtc"]


class SmartTurn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`smart`'s silences: after a finished sentence, an unfinished one (the cap), and speech
    with no words recognized yet."""

    complete_ms: EndOfSpeechMs = 200
    incomplete_ms: EndOfSpeechMs = 1_200
    unknown_ms: EndOfSpeechMs = 600


# A day: beyond any real phone conversation, within what PostgreSQL's integer holds.
MaxCallSeconds = Annotated[int, msgspec.Meta(ge=1, le=86_400)]
RetentionDays = Annotated[int, msgspec.Meta(ge=1, le=3_650)]
# An agent answering more numbers than this is a trunk-wide route, not a list.
MAX_INBOUND_NUMBERS = 100
InboundNumbers = Annotated[list[Did], msgspec.Meta(max_length=MAX_INBOUND_NUMBERS)]
# Built-in tools the model is offered (pipeline.dtmf_tools.CallTool).
CallToolName = Literal["send_dtmf", "wait_for_digits", "end_call"]
CallTools = Annotated[list[CallToolName], msgspec.Meta(max_length=3)]
_KINDS = (ProviderKind.STT, ProviderKind.LLM, ProviderKind.TTS)


class AgentOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    system_prompt: str
    welcome_message: str
    welcome_interruptible: bool
    language: str
    stt: ProviderChoice
    llm: ProviderChoice
    tts: ProviderChoice
    barge_in_sensitivity: BargeIn
    end_of_speech_ms: int | None
    turn_detection: TurnDetection
    smart_turn: SmartTurn | None
    vad: Vad
    noise_suppression: NoiseSuppression
    voicemail_policy: VoicemailPolicy
    voicemail_message: str
    max_call_seconds: int
    recording_enabled: bool
    recording_retention_days: int
    media_transport: MediaTransport | None
    tools: list[AgentToolOut]
    mcp_servers: list[AgentMcpServer]
    transfer: AgentTransfer
    analysis: AgentAnalysis
    call_tools: list[CallToolName]
    inbound_numbers: list[str]
    created_at: datetime
    updated_at: datetime
    # Set when inbound numbers changed: how re-provisioning Asterisk's dialplan went.
    reload: ReloadStatus | None = None


class AgentList(msgspec.Struct, kw_only=True):
    items: list[AgentOut]
    total: int
    limit: int
    offset: int


class AgentCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name
    stt: ProviderChoice
    llm: ProviderChoice
    tts: ProviderChoice
    system_prompt: Prompt = ""
    welcome_message: Message = ""
    welcome_interruptible: bool = True
    language: Language = "en-US"
    barge_in_sensitivity: BargeIn = "medium"
    end_of_speech_ms: EndOfSpeechMs | None = None
    turn_detection: TurnDetection = "silence"
    smart_turn: SmartTurn | None = None
    vad: Vad = "webrtc"
    noise_suppression: NoiseSuppression = "off"
    voicemail_policy: VoicemailPolicy = "hangup"
    voicemail_message: Message = ""
    max_call_seconds: MaxCallSeconds = 1_800
    recording_enabled: bool = False
    recording_retention_days: RetentionDays = 30
    media_transport: MediaTransport | None = None
    tools: AgentTools = msgspec.field(default_factory=list)
    mcp_servers: AgentMcpServers = msgspec.field(default_factory=list)
    transfer: AgentTransfer = msgspec.field(default_factory=AgentTransfer)
    analysis: AgentAnalysis = msgspec.field(default_factory=AgentAnalysis)
    call_tools: CallTools = msgspec.field(default_factory=list)
    inbound_numbers: InboundNumbers = msgspec.field(default_factory=list)


class AgentUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Only the fields given change."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    stt: ProviderChoice | msgspec.UnsetType = msgspec.UNSET
    llm: ProviderChoice | msgspec.UnsetType = msgspec.UNSET
    tts: ProviderChoice | msgspec.UnsetType = msgspec.UNSET
    system_prompt: Prompt | msgspec.UnsetType = msgspec.UNSET
    welcome_message: Message | msgspec.UnsetType = msgspec.UNSET
    welcome_interruptible: bool | msgspec.UnsetType = msgspec.UNSET
    language: Language | msgspec.UnsetType = msgspec.UNSET
    barge_in_sensitivity: BargeIn | msgspec.UnsetType = msgspec.UNSET
    end_of_speech_ms: EndOfSpeechMs | msgspec.UnsetType | None = msgspec.UNSET
    turn_detection: TurnDetection | msgspec.UnsetType = msgspec.UNSET
    smart_turn: SmartTurn | msgspec.UnsetType | None = msgspec.UNSET
    vad: Vad | msgspec.UnsetType = msgspec.UNSET
    noise_suppression: NoiseSuppression | msgspec.UnsetType = msgspec.UNSET
    voicemail_policy: VoicemailPolicy | msgspec.UnsetType = msgspec.UNSET
    voicemail_message: Message | msgspec.UnsetType = msgspec.UNSET
    max_call_seconds: MaxCallSeconds | msgspec.UnsetType = msgspec.UNSET
    recording_enabled: bool | msgspec.UnsetType = msgspec.UNSET
    recording_retention_days: RetentionDays | msgspec.UnsetType = msgspec.UNSET
    media_transport: MediaTransport | msgspec.UnsetType | None = msgspec.UNSET
    tools: AgentTools | msgspec.UnsetType = msgspec.UNSET
    mcp_servers: AgentMcpServers | msgspec.UnsetType = msgspec.UNSET
    transfer: AgentTransfer | msgspec.UnsetType = msgspec.UNSET
    analysis: AgentAnalysis | msgspec.UnsetType = msgspec.UNSET
    call_tools: CallTools | msgspec.UnsetType = msgspec.UNSET
    inbound_numbers: InboundNumbers | msgspec.UnsetType = msgspec.UNSET


def _out(row: Agent, numbers: list[str]) -> AgentOut:
    values = msgspec.structs.asdict(row)
    values.pop("tenant_id")
    return msgspec.convert({**values, "inbound_numbers": numbers}, AgentOut, strict=False)


async def _numbers(context: ApiContext, tenant_id: uuid.UUID, agent_id: uuid.UUID) -> list[str]:
    page = await InboundRouteRepository(context.pool).list_page(
        tenant_id, filters={"agent_id": agent_id}, sort="did", limit=MAX_INBOUND_NUMBERS
    )
    return [route.did for route in page.items]


async def _checked_values(
    context: ApiContext, tenant_id: uuid.UUID, given: dict[str, Any], current: Agent | None
) -> dict[str, Any]:
    """Column values to write: provider choices resolved, cross-field rules checked (422)."""
    errors: list[FieldError] = []
    values = dict(given)
    for kind in _KINDS:
        if kind.value in values:
            choice = msgspec.convert(values[kind.value], ProviderChoice)
            resolved, problems_found = await resolve_choice(context, tenant_id, kind, choice)
            errors += problems_found
            values[kind.value] = msgspec.to_builtins(resolved)
    policy = values.get("voicemail_policy", current.voicemail_policy if current else "hangup")
    message = values.get("voicemail_message", current.voicemail_message if current else "")
    if policy == "leave_message" and not str(message).strip():
        errors.append(FieldError("voicemail_message", "is required to leave a message"))
    if "tools" in values:
        errors += tool_problems(context, values["tools"])
        stored = current.tools if current else []
        values["tools"], unsealable = sealed_tools(context, values["tools"], stored)
        errors += unsealable
    errors += mcp_server_problems(context, values.get("mcp_servers", []))
    errors += transfer_problems(values.get("transfer"))
    if "analysis" in values:
        values["analysis"], found = await analysis_problems(context, tenant_id, values["analysis"])
        errors += found
    smart = values.get("smart_turn")
    if smart and not smart["complete_ms"] <= smart["unknown_ms"] <= smart["incomplete_ms"]:
        errors.append(FieldError("smart_turn", "needs complete_ms <= unknown_ms <= incomplete_ms"))
    errors += _call_tool_problems(values, current)
    numbers = values.get("inbound_numbers")
    if numbers is not None:
        numbers = values["inbound_numbers"] = [normalize_number(n) for n in numbers]
    if numbers is not None and len(set(numbers)) != len(numbers):
        errors.append(FieldError("inbound_numbers", "lists a number twice"))
    if errors:
        raise invalid_fields(errors)
    return values


def _call_tool_problems(values: dict[str, Any], current: Agent | None) -> list[FieldError]:
    """Built-in tools listed twice, or an HTTP tool named like an enabled built-in one."""
    builtin = values.get("call_tools", current.call_tools if current else [])
    tools = values.get("tools", current.tools if current else [])
    found = []
    if len(set(builtin)) != len(builtin):
        found.append(FieldError("call_tools", "lists a tool twice"))
    for index, tool in enumerate(tools):
        if tool.get("name") in builtin:
            found.append(FieldError(f"tools[{index}].name", "is the name of a built-in tool"))
    return found


async def _replace_numbers(
    context: ApiContext, tenant_id: uuid.UUID, agent_id: uuid.UUID, dids: list[str]
) -> list[str]:
    """Route exactly `dids` to the agent; numbers that stay keep their trunk and carrier."""
    routes = InboundRouteRepository(context.pool)
    old = (
        await routes.list_page(tenant_id, filters={"agent_id": agent_id}, limit=MAX_INBOUND_NUMBERS)
    ).items
    new = await routes.replace_for_agent(tenant_id, agent_id, dids)
    touched = {route.did for route in old} | set(dids)
    cache = ConfigCache(context.redis)
    await cache.invalidate(None, *(did_cache_name(d) for d in touched))
    await cache.invalidate(tenant_id, *(number_cache_name(d) for d in touched))
    return sorted(route.did for route in new)


async def _check_numbers_free(
    context: ApiContext, tenant_id: uuid.UUID, agent_id: uuid.UUID | None, dids: list[str]
) -> None:
    """409 before anything is written when a number already rings another agent, naming the
    agent when it is this tenant's (another tenant's agents are none of its business)."""
    taken = await context.pool.fetch(
        "SELECT r.did, CASE WHEN r.tenant_id = $2 THEN a.name END AS agent "
        "FROM inbound_routes r LEFT JOIN agents a ON a.id = r.agent_id "
        "WHERE r.did = ANY($1::text[]) "
        "AND (r.tenant_id <> $2 OR r.agent_id IS DISTINCT FROM $3) ORDER BY r.did",
        dids,
        tenant_id,
        agent_id,
    )
    if taken:
        errors = [
            FieldError(
                f"inbound_numbers[{dids.index(row['did'])}]",
                f"This number belongs to agent {row['agent']}."
                if row["agent"]
                else "This number is used by another account.",
            )
            for row in taken
        ]
        raise ApiError(409, f"number {taken[0]['did']}: {errors[0].reason}", errors=errors)


async def _routes_of(
    context: ApiContext, tenant_id: uuid.UUID, agent_id: uuid.UUID
) -> list[InboundRoute]:
    page = await InboundRouteRepository(context.pool).list_page(
        tenant_id, filters={"agent_id": agent_id}, limit=MAX_INBOUND_NUMBERS
    )
    return page.items


@get(
    "/",
    operation_id="listAgents",
    responses=problems(400, 401, 429),
    dependencies={"principal": Provide(authenticate)},
)
async def list_agents(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
    sort: Annotated[str, sort_param(AgentRepository.sortable)] = "name",
    name: FromQuery[Annotated[str, msgspec.Meta(max_length=MAX_FILTER_CHARS)] | None] = None,
    language: FromQuery[Annotated[str, msgspec.Meta(max_length=MAX_FILTER_CHARS)] | None] = None,
) -> AgentList:
    filters = {k: v for k, v in (("name", name), ("language", language)) if v is not None}
    page = await AgentRepository(context.pool).list_page(
        principal.tenant_id, filters=filters, sort=sort, limit=limit, offset=offset
    )
    numbers: dict[uuid.UUID, list[str]] = {row.id: [] for row in page.items}
    if page.items:
        records = await context.pool.fetch(
            "SELECT agent_id, did FROM inbound_routes WHERE tenant_id = $1 "
            "AND agent_id = ANY($2::uuid[]) ORDER BY did",
            principal.tenant_id,
            list(numbers),
        )
        for record in records:
            numbers[record["agent_id"]].append(record["did"])
    return AgentList(
        items=[_out(row, numbers[row.id]) for row in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@post(
    "/",
    operation_id="createAgent",
    responses=problems(400, 401, 403, 409, 422, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def create_agent(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    data: JSONBody[AgentCreate],
) -> AgentOut:
    given = msgspec.to_builtins(data)
    values = await _checked_values(context, principal.tenant_id, given, None)
    dids = values.pop("inbound_numbers")
    await _check_numbers_free(context, principal.tenant_id, None, dids)
    repository = AgentRepository(context.pool)
    row = await repository.create(principal.tenant_id, values)
    try:
        numbers = await _replace_numbers(context, principal.tenant_id, row.id, dids)
    except Exception:
        # A number routed elsewhere refuses the whole request: leave nothing behind.
        await repository.delete(principal.tenant_id, row.id)
        raise
    out = _out(row, numbers)
    await audit(context, principal, "create", "agent", row.id, after=out)
    if numbers:
        out.reload = await reprovision(context, principal.tenant_id)
    return out


@get(
    "/{agent_id:uuid}",
    operation_id="getAgent",
    responses=problems(401, 404, 429),
    dependencies={"principal": Provide(authenticate)},
)
async def get_agent(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    agent_id: FromPath[uuid.UUID],
) -> AgentOut:
    tenant_id = principal.tenant_id

    async def load() -> Agent | None:
        return await AgentRepository(context.pool).get(tenant_id, agent_id)

    row = await ConfigCache(context.redis).get_or_load(
        tenant_id, agent_cache_name(agent_id), Agent, load
    )
    if row is None:
        raise not_found("agent")
    return _out(row, await _numbers(context, tenant_id, agent_id))


@patch(
    "/{agent_id:uuid}",
    operation_id="updateAgent",
    responses=problems(400, 401, 403, 404, 409, 422, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def update_agent(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    agent_id: FromPath[uuid.UUID],
    data: JSONBody[AgentUpdate],
) -> AgentOut:
    tenant_id = principal.tenant_id
    repository = AgentRepository(context.pool)
    current = await repository.get(tenant_id, agent_id)
    if current is None:
        raise not_found("agent")
    before = _out(current, await _numbers(context, tenant_id, agent_id))
    given = msgspec.to_builtins(data)
    values = await _checked_values(context, tenant_id, given, current)
    dids = values.pop("inbound_numbers", None)
    numbers = before.inbound_numbers
    if dids is not None:
        await _check_numbers_free(context, tenant_id, agent_id, dids)
    row = await repository.update(tenant_id, agent_id, values)
    if row is None:
        raise not_found("agent")
    numbers_changed = dids is not None and sorted(dids) != numbers
    if dids is not None and numbers_changed:
        numbers = await _replace_numbers(context, tenant_id, agent_id, dids)
    await ConfigCache(context.redis).invalidate(tenant_id, agent_cache_name(agent_id))
    out = _out(row, numbers)
    await audit(context, principal, "update", "agent", agent_id, before=before, after=out)
    if numbers_changed:
        out.reload = await reprovision(context, tenant_id)
    return out


@delete(
    "/{agent_id:uuid}",
    operation_id="deleteAgent",
    status_code=HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def delete_agent(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    agent_id: FromPath[uuid.UUID],
) -> None:
    tenant_id = principal.tenant_id
    repository = AgentRepository(context.pool)
    current = await repository.get(tenant_id, agent_id)
    if current is None:
        raise not_found("agent")
    routes = await _routes_of(context, tenant_id, agent_id)
    before = _out(current, sorted(r.did for r in routes))
    await repository.delete(tenant_id, agent_id)
    cache = ConfigCache(context.redis)
    await cache.invalidate(
        tenant_id, agent_cache_name(agent_id), *(number_cache_name(r.did) for r in routes)
    )
    await cache.invalidate(None, *(did_cache_name(r.did) for r in routes))
    await audit(context, principal, "delete", "agent", agent_id, before=before)
    if routes:
        # A 204 has no body to report on: a failure is logged by `reprovision`.
        await reprovision(context, tenant_id)


router = Router(
    path="/agents",
    route_handlers=[list_agents, create_agent, get_agent, update_agent, delete_agent],
    tags=["agents"],
    security=[{"bearer": []}],
)
