"""API keys for API clients: the secret shown once, listed by prefix, revocable, rate limited."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

import msgspec
from litestar import Router, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT

from api.auth import Principal, Role, authenticate, authenticate_writer
from api.common import DEFAULT_LIMIT, Limit, Offset, audit, sort_param
from api.context import ApiContext
from api.errors import ApiError, not_found, problems
from store.models import ApiKey
from store.repositories.config import ApiKeyRepository
from store.secrets import generate_api_key

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
# Upper bounds catch unit mistakes (a per-day figure typed as per-minute) and fit PostgreSQL int.
MAX_RPM = 1_000_000
MAX_RPD = 1_000_000_000


class ApiKeyOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    prefix: str
    role: Role
    rpm: int
    rpd: int
    last_used_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime


class ApiKeyCreated(ApiKeyOut, kw_only=True):
    """The new key; `key` is the secret and is never shown again."""

    key: str


class ApiKeyList(msgspec.Struct, kw_only=True):
    items: list[ApiKeyOut]
    total: int
    limit: int
    offset: int


class ApiKeyCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name
    rpm: Annotated[int, msgspec.Meta(ge=1, le=MAX_RPM)] = 60
    rpd: Annotated[int, msgspec.Meta(ge=1, le=MAX_RPD)] = 10_000
    role: Role = "admin"


def _fields(row: ApiKey) -> dict[str, object]:
    return {
        "id": row.id,
        "name": row.name,
        "prefix": row.prefix,
        "role": row.role,
        "rpm": row.rpm,
        "rpd": row.rpd,
        "last_used_at": row.last_used_at,
        "revoked_at": row.revoked_at,
        "created_at": row.created_at,
    }


def _out(row: ApiKey) -> ApiKeyOut:
    return msgspec.convert(_fields(row), ApiKeyOut)


@get(
    "/",
    operation_id="listApiKeys",
    responses=problems(400, 401, 429),
    dependencies={"principal": Provide(authenticate)},
)
async def list_api_keys(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
    sort: Annotated[str, sort_param(ApiKeyRepository.sortable)] = "-created_at",
) -> ApiKeyList:
    page = await ApiKeyRepository(context.pool).list_page(
        principal.tenant_id, sort=sort, limit=limit, offset=offset
    )
    return ApiKeyList(
        items=[_out(k) for k in page.items], total=page.total, limit=page.limit, offset=page.offset
    )


@post(
    "/",
    operation_id="createApiKey",
    responses=problems(400, 401, 403, 409, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def create_api_key(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    data: JSONBody[ApiKeyCreate],
) -> ApiKeyCreated:
    if data.role == "owner" and principal.role != "owner":
        raise ApiError(403, "only an owner can create owner keys")
    new = generate_api_key()
    row = await ApiKeyRepository(context.pool).create(
        principal.tenant_id,
        {
            "name": data.name,
            "prefix": new.prefix,
            "key_hash": new.key_hash,
            "role": data.role,
            "rpm": data.rpm,
            "rpd": data.rpd,
        },
    )
    await audit(context, principal, "create", "api_key", row.id, after=_fields(row))
    return msgspec.convert({**_fields(row), "key": new.key}, ApiKeyCreated)


@get(
    "/{key_id:uuid}",
    operation_id="getApiKey",
    responses=problems(401, 404, 429),
    dependencies={"principal": Provide(authenticate)},
)
async def get_api_key(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    key_id: FromPath[uuid.UUID],
) -> ApiKeyOut:
    row = await ApiKeyRepository(context.pool).get(principal.tenant_id, key_id)
    if row is None:
        raise not_found("API key")
    return _out(row)


@delete(
    "/{key_id:uuid}",
    operation_id="revokeApiKey",
    summary="Revoke a key (it keeps its row so the audit trail stays readable)",
    status_code=HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def revoke_api_key(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    key_id: FromPath[uuid.UUID],
) -> None:
    repository = ApiKeyRepository(context.pool)
    row = await repository.get(principal.tenant_id, key_id)
    if row is None:
        raise not_found("API key")
    if row.revoked_at is None:
        await repository.update(principal.tenant_id, key_id, {"revoked_at": datetime.now(UTC)})
        await audit(context, principal, "revoke", "api_key", key_id, before=_fields(row))


router = Router(
    path="/api-keys",
    route_handlers=[list_api_keys, create_api_key, get_api_key, revoke_api_key],
    tags=["api-keys"],
    security=[{"bearer": []}],
)
