"""SIP trunks: what provisioning renders into PJSIP, validated with provisioning's own whitelists.

Every change re-provisions Asterisk through `ApiContext.on_trunks_changed` (when the process
provides it); a reload that fails is reported in the response's `reload` with its reason.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Router, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody

from api.auth import Principal, authenticate, authenticate_writer
from api.common import DEFAULT_LIMIT, MAX_FILTER_CHARS, Limit, Offset, audit, sort_param
from api.context import ApiContext
from api.errors import ApiError, FieldError, invalid_fields, not_found, problems
from api.reprovision import ReloadStatus, reprovision
from provisioning.models import InboundRoute, Trunk
from provisioning.status import TrunkStatus
from provisioning.validation import MAX_SECRET_LENGTH, validate_did, validate_trunk
from store.config_cache import ConfigCache, did_cache_name
from store.models import SipTrunk
from store.numbers import normalize_number
from store.repositories.config import InboundRouteRepository, SipTrunkRepository

TrunkKind = Literal["registration", "ip"]
Transport = Literal["udp", "tcp", "tls"]
DtmfMode = Literal["rfc4733", "inband", "info", "auto"]
Codec = Literal["ulaw", "alaw", "g722", "opus"]
# Field-level rules (characters, ranges) are provisioning's; these bounds only keep JSON sane.
Text = Annotated[str, msgspec.Meta(max_length=256)]
# Provisioning's own limit, so the OpenAPI document promises what validation accepts.
Password = Annotated[str, msgspec.Meta(max_length=MAX_SECRET_LENGTH)]
MAX_TRUNK_ROUTES = 1_000
# What the form promises a trunk name is; kept to it so names read the same in lists, logs
# and the CLI. Names stored before the rule stay editable until they are renamed.
TRUNK_NAME = re.compile(r"[A-Za-z0-9_-]+")
TRUNK_NAME_RULE = "may only contain letters, digits, '-' and '_' (no spaces)"

# Why a TLS trunk is refused: Asterisk would take it and fail every call on it ("Event source
# does not exist") because the shipped pjsip.conf has no TLS transport.
TLS_NOT_CONFIGURED = (
    "TLS needs a [transport-tls] transport in Asterisk's pjsip.conf; add it (with its "
    "certificates) and set VOCALS_SIP_TLS=true, or use udp or tcp"
)


class TrunkRoute(msgspec.Struct, forbid_unknown_fields=True):
    """A dialled number arriving on this trunk, answered by an agent."""

    did: Annotated[str, msgspec.Meta(max_length=21)]
    agent_id: uuid.UUID


class TrunkOut(msgspec.Struct, kw_only=True):
    """A trunk; `password` is never returned, `has_password` says whether one is stored."""

    id: uuid.UUID
    name: str
    kind: TrunkKind
    host: str
    port: int
    transport: Transport
    username: str | None
    has_password: bool
    from_user: str | None
    from_domain: str | None
    codecs: list[Codec]
    dtmf_mode: DtmfMode
    max_cps: float
    max_calls: int
    inbound_routes: list[TrunkRoute]
    created_at: datetime
    updated_at: datetime
    reload: ReloadStatus | None = None


class TrunkList(msgspec.Struct, kw_only=True):
    items: list[TrunkOut]
    total: int
    limit: int
    offset: int


class TrunkDeleted(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    reload: ReloadStatus | None = None


class TrunkCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Text
    kind: TrunkKind
    host: Text
    port: int = 5060
    transport: Transport = "udp"
    username: Text | None = None
    password: Password | None = None
    from_user: Text | None = None
    from_domain: Text | None = None
    codecs: Annotated[list[Codec], msgspec.Meta(max_length=8)] = msgspec.field(
        default_factory=lambda: ["ulaw", "alaw"]
    )
    dtmf_mode: DtmfMode = "rfc4733"
    max_cps: float = 1.0
    max_calls: int = 10
    inbound_routes: Annotated[list[TrunkRoute], msgspec.Meta(max_length=MAX_TRUNK_ROUTES)] = (
        msgspec.field(default_factory=list)
    )


class TrunkUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Only the fields given change; `password: null` removes the password."""

    name: Text | msgspec.UnsetType = msgspec.UNSET
    kind: TrunkKind | msgspec.UnsetType = msgspec.UNSET
    host: Text | msgspec.UnsetType = msgspec.UNSET
    port: int | msgspec.UnsetType = msgspec.UNSET
    transport: Transport | msgspec.UnsetType = msgspec.UNSET
    username: Text | msgspec.UnsetType | None = msgspec.UNSET
    password: Password | msgspec.UnsetType | None = msgspec.UNSET
    from_user: Text | msgspec.UnsetType | None = msgspec.UNSET
    from_domain: Text | msgspec.UnsetType | None = msgspec.UNSET
    codecs: Annotated[list[Codec], msgspec.Meta(max_length=8)] | msgspec.UnsetType = msgspec.UNSET
    dtmf_mode: DtmfMode | msgspec.UnsetType = msgspec.UNSET
    max_cps: float | msgspec.UnsetType = msgspec.UNSET
    max_calls: int | msgspec.UnsetType = msgspec.UNSET
    inbound_routes: (
        Annotated[list[TrunkRoute], msgspec.Meta(max_length=MAX_TRUNK_ROUTES)] | msgspec.UnsetType
    ) = msgspec.UNSET


def _validate(
    context: ApiContext,
    trunk_id: uuid.UUID,
    tenant_id: uuid.UUID,
    values: dict[str, Any],
    *,
    new_name: bool,
) -> None:
    """422 naming every field provisioning would refuse (PROTOCOLS.md §6 whitelists), and a
    `new_name` outside TRUNK_NAME. The routes' numbers are put in their stored form
    (store.numbers) on the way."""
    fields = {k: v for k, v in values.items() if k != "inbound_routes"}
    fields["codecs"] = tuple(fields.get("codecs", ()))
    candidate = Trunk(id=str(trunk_id), tenant_id=str(tenant_id), **fields)
    errors = [FieldError(e.field, e.reason) for e in validate_trunk(candidate)]
    named = any(e.field == "name" for e in errors)
    if new_name and not named and not TRUNK_NAME.fullmatch(candidate.name):
        errors.append(FieldError("name", TRUNK_NAME_RULE))
    if candidate.transport == "tls" and not context.settings.sip_tls:
        errors.append(FieldError("transport", TLS_NOT_CONFIGURED))
    routes = values.get("inbound_routes", [])
    seen: set[str] = set()
    for index, route in enumerate(routes):
        route["did"] = normalize_number(route["did"])
        reason = validate_did(route["did"])
        if reason is None and route["did"] in seen:
            reason = "is listed twice"
        seen.add(route["did"])
        if reason is not None:
            errors.append(FieldError(f"inbound_routes[{index}].did", reason))
    if errors:
        raise invalid_fields(errors)


async def _check_routes(
    context: ApiContext, tenant_id: uuid.UUID, trunk_id: uuid.UUID, routes: list[dict[str, Any]]
) -> None:
    """422 for an unknown agent, 409 for a number routed by someone else; before any write."""
    agent_ids = list({uuid.UUID(str(r["agent_id"])) for r in routes})
    found = {
        record["id"]
        for record in await context.pool.fetch(
            "SELECT id FROM agents WHERE tenant_id = $1 AND id = ANY($2::uuid[])",
            tenant_id,
            agent_ids,
        )
    }
    errors = [
        FieldError(f"inbound_routes[{i}].agent_id", "no agent with this id")
        for i, r in enumerate(routes)
        if uuid.UUID(str(r["agent_id"])) not in found
    ]
    if errors:
        raise invalid_fields(errors)
    taken = await context.pool.fetch(
        "SELECT did FROM inbound_routes WHERE did = ANY($1::text[]) "
        "AND (tenant_id <> $2 OR trunk_id IS DISTINCT FROM $3) ORDER BY did",
        [r["did"] for r in routes],
        tenant_id,
        trunk_id,
    )
    if taken:
        raise ApiError(409, f"number {taken[0]['did']} is already routed elsewhere")


async def _replace_routes(
    context: ApiContext, tenant_id: uuid.UUID, trunk_id: uuid.UUID, routes: list[dict[str, Any]]
) -> None:
    async with context.pool.acquire() as conn, conn.transaction():
        removed = await conn.fetch(
            "DELETE FROM inbound_routes WHERE tenant_id = $1 AND trunk_id = $2 "
            "RETURNING did, provider",
            tenant_id,
            trunk_id,
        )
        carriers = {r["did"]: r["provider"] for r in removed}
        for route in routes:
            # A number that stays keeps its carrier (Asterisk or Twilio).
            await conn.execute(
                "INSERT INTO inbound_routes (id, tenant_id, did, agent_id, trunk_id, provider) "
                "VALUES ($1, $2, $3, $4, $5, coalesce($6, 'asterisk'))",
                uuid.uuid4(),
                tenant_id,
                route["did"],
                uuid.UUID(str(route["agent_id"])),
                trunk_id,
                carriers.get(route["did"]),
            )
    dids = {r["did"] for r in removed} | {r["did"] for r in routes}
    await ConfigCache(context.redis).invalidate(None, *(did_cache_name(d) for d in dids))


async def _routes(
    context: ApiContext, tenant_id: uuid.UUID, trunk_id: uuid.UUID
) -> list[TrunkRoute]:
    page = await InboundRouteRepository(context.pool).list_page(
        tenant_id, filters={"trunk_id": trunk_id}, sort="did", limit=MAX_TRUNK_ROUTES
    )
    return [TrunkRoute(did=r.did, agent_id=r.agent_id) for r in page.items]


def _out(row: SipTrunk, routes: list[TrunkRoute], reload: ReloadStatus | None = None) -> TrunkOut:
    values = msgspec.structs.asdict(row)
    for hidden in ("tenant_id", "password"):
        values.pop(hidden)
    return msgspec.convert(
        {
            **values,
            "has_password": row.password is not None,
            "inbound_routes": routes,
            "reload": reload,
        },
        TrunkOut,
        strict=False,
        from_attributes=True,
    )


async def _get(context: ApiContext, tenant_id: uuid.UUID, trunk_id: uuid.UUID) -> SipTrunk:
    row = await SipTrunkRepository(context.pool, context.box).get(tenant_id, trunk_id)
    if row is None:
        raise not_found("SIP trunk")
    return row


@get("/", operation_id="listSipTrunks", responses=problems(400, 401, 429))
async def list_trunks(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
    kind: FromQuery[TrunkKind | None] = None,
    host: FromQuery[Annotated[str, msgspec.Meta(max_length=MAX_FILTER_CHARS)] | None] = None,
    sort: Annotated[str, sort_param(SipTrunkRepository.sortable)] = "name",
) -> TrunkList:
    filters = {k: v for k, v in (("kind", kind), ("host", host)) if v is not None}
    page = await SipTrunkRepository(context.pool, context.box).list_page(
        principal.tenant_id, filters=filters, sort=sort, limit=limit, offset=offset
    )
    items = [_out(r, await _routes(context, principal.tenant_id, r.id)) for r in page.items]
    return TrunkList(items=items, total=page.total, limit=page.limit, offset=page.offset)


@post(
    "/",
    operation_id="createSipTrunk",
    responses=problems(400, 401, 403, 409, 422, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def create_trunk(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    data: JSONBody[TrunkCreate],
) -> TrunkOut:
    tenant_id, trunk_id = principal.tenant_id, uuid.uuid4()
    values: dict[str, Any] = msgspec.to_builtins(data)
    _validate(context, trunk_id, tenant_id, values, new_name=True)
    routes = values.pop("inbound_routes")
    await _check_routes(context, tenant_id, trunk_id, routes)
    repository = SipTrunkRepository(context.pool, context.box)
    row = await repository.create(tenant_id, values, row_id=trunk_id)
    await _replace_routes(context, tenant_id, trunk_id, routes)
    out = _out(
        row, await _routes(context, tenant_id, trunk_id), await reprovision(context, tenant_id)
    )
    await audit(context, principal, "create", "sip_trunk", trunk_id, after=out)
    return out


@get("/{trunk_id:uuid}", operation_id="getSipTrunk", responses=problems(401, 404, 429))
async def get_trunk(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    trunk_id: FromPath[uuid.UUID],
) -> TrunkOut:
    row = await _get(context, principal.tenant_id, trunk_id)
    return _out(row, await _routes(context, principal.tenant_id, trunk_id))


@patch(
    "/{trunk_id:uuid}",
    operation_id="updateSipTrunk",
    responses=problems(400, 401, 403, 404, 409, 422, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def update_trunk(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    trunk_id: FromPath[uuid.UUID],
    data: JSONBody[TrunkUpdate],
) -> TrunkOut:
    tenant_id = principal.tenant_id
    repository = SipTrunkRepository(context.pool, context.box)
    current = await _get(context, tenant_id, trunk_id)
    given = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    given = msgspec.to_builtins(given)
    merged = {
        k: v for k, v in msgspec.structs.asdict(current).items() if k in SipTrunkRepository.writable
    }
    merged["password"] = repository.reveal(current, "password")
    merged.update(given)
    _validate(
        context,
        trunk_id,
        tenant_id,
        merged,
        new_name=given.get("name", current.name) != current.name,
    )
    routes = given.pop("inbound_routes", None)
    if routes is not None:
        await _check_routes(context, tenant_id, trunk_id, routes)
    before = _out(current, await _routes(context, tenant_id, trunk_id))
    row = await repository.update(tenant_id, trunk_id, given)
    if row is None:
        raise not_found("SIP trunk")
    if routes is not None:
        await _replace_routes(context, tenant_id, trunk_id, routes)
    out = _out(
        row, await _routes(context, tenant_id, trunk_id), await reprovision(context, tenant_id)
    )
    await audit(context, principal, "update", "sip_trunk", trunk_id, before=before, after=out)
    return out


@delete(
    "/{trunk_id:uuid}",
    operation_id="deleteSipTrunk",
    status_code=200,
    responses=problems(401, 403, 404, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def delete_trunk(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    trunk_id: FromPath[uuid.UUID],
) -> TrunkDeleted:
    tenant_id = principal.tenant_id
    current = await _get(context, tenant_id, trunk_id)
    before = _out(current, await _routes(context, tenant_id, trunk_id))
    await _replace_routes(context, tenant_id, trunk_id, [])
    await SipTrunkRepository(context.pool, context.box).delete(tenant_id, trunk_id)
    reload = await reprovision(context, tenant_id)
    await audit(context, principal, "delete", "sip_trunk", trunk_id, before=before)
    return TrunkDeleted(id=trunk_id, reload=reload)


async def provisioning_trunk(context: ApiContext, row: SipTrunk) -> Trunk:
    """The trunk as provisioning renders it: password decrypted, inbound routes attached."""
    repository = SipTrunkRepository(context.pool, context.box)
    routes = await _routes(context, row.tenant_id, row.id)
    return Trunk(
        id=str(row.id),
        tenant_id=str(row.tenant_id),
        name=row.name,
        kind=row.kind,  # type: ignore[arg-type]  # the table's CHECK keeps it a TrunkKind
        host=row.host,
        port=row.port,
        transport=row.transport,  # type: ignore[arg-type]  # ditto, a Transport
        username=row.username,
        password=repository.reveal(row, "password"),
        from_user=row.from_user,
        from_domain=row.from_domain,
        codecs=tuple(row.codecs),  # type: ignore[arg-type]  # validated on write
        dtmf_mode=row.dtmf_mode,  # type: ignore[arg-type]  # validated on write
        max_cps=row.max_cps,
        max_calls=row.max_calls,
        inbound_routes=tuple(InboundRoute(did=r.did, agent_id=str(r.agent_id)) for r in routes),
    )


@get(
    "/{trunk_id:uuid}/status",
    operation_id="getSipTrunkStatus",
    summary="Live registration and endpoint state from Asterisk",
    responses=problems(401, 404, 429, 503),
)
async def get_trunk_status(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    trunk_id: FromPath[uuid.UUID],
) -> TrunkStatus:
    row = await _get(context, principal.tenant_id, trunk_id)
    if context.trunk_status is None:
        raise ApiError(503, "this process has no Asterisk connection to ask")
    return await context.trunk_status(await provisioning_trunk(context, row))


router = Router(
    path="/sip-trunks",
    route_handlers=[
        list_trunks,
        create_trunk,
        get_trunk,
        update_trunk,
        delete_trunk,
        get_trunk_status,
    ],
    tags=["sip-trunks"],
    security=[{"bearer": []}],
    dependencies={"principal": Provide(authenticate)},
)
