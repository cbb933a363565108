"""The audit log: every mutation, who made it, before and after (secrets redacted)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Router, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery

from api.auth import Principal, authenticate
from api.common import DEFAULT_LIMIT, MAX_FILTER_CHARS, Limit, Offset
from api.context import ApiContext
from api.errors import problems
from store.repositories.base import MAX_PAGE_SIZE

Filter = Annotated[str, msgspec.Meta(max_length=MAX_FILTER_CHARS)]


class AuditLogOut(msgspec.Struct, kw_only=True):
    id: int
    actor: str
    action: str
    entity_type: str
    entity_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    created_at: datetime


class AuditLogList(msgspec.Struct, kw_only=True):
    items: list[AuditLogOut]
    total: int
    limit: int
    offset: int


@get("/", operation_id="listAuditLogs", responses=problems(400, 401, 429))
async def list_audit_logs(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
    actor: FromQuery[Filter | None] = None,
    action: FromQuery[Filter | None] = None,
    entity_type: FromQuery[Filter | None] = None,
    entity_id: FromQuery[Filter | None] = None,
    since: FromQuery[datetime | None] = None,
    until: FromQuery[datetime | None] = None,
) -> AuditLogList:
    """Newest first; `since`/`until` bound `created_at`."""
    where = ["tenant_id = $1"]
    params: list[Any] = [principal.tenant_id]
    for column, value in (
        ("actor", actor),
        ("action", action),
        ("entity_type", entity_type),
        ("entity_id", entity_id),
    ):
        if value is not None:
            params.append(value)
            where.append(f"{column} = ${len(params)}")
    for comparison, moment in ((">=", since), ("<", until)):
        if moment is not None:
            params.append(moment)
            where.append(f"created_at {comparison} ${len(params)}")
    clause = " AND ".join(where)
    limit = min(limit, MAX_PAGE_SIZE)
    total = await context.pool.fetchval(f"SELECT count(*) FROM audit_logs WHERE {clause}", *params)
    records = await context.pool.fetch(
        f"SELECT * FROM audit_logs WHERE {clause} ORDER BY created_at DESC, id DESC "
        f"LIMIT {limit} OFFSET {offset}",
        *params,
    )
    items = [msgspec.convert(dict(r), AuditLogOut, strict=False) for r in records]
    return AuditLogList(items=items, total=int(total), limit=limit, offset=offset)


router = Router(
    path="/audit-logs",
    route_handlers=[list_audit_logs],
    tags=["audit-logs"],
    security=[{"bearer": []}],
    dependencies={"principal": Provide(authenticate)},
)
