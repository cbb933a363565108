"""The caller's tenant."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec
from litestar import Router, get
from litestar.di import NamedDependency, Provide

from api.auth import Principal, authenticate
from api.context import ApiContext
from api.errors import not_found, problems
from store.repositories.tenants import TenantsRepository


class TenantOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    created_at: datetime


@get("/", operation_id="getTenant", responses=problems(401, 404, 429))
async def get_tenant(
    principal: NamedDependency[Principal], context: NamedDependency[ApiContext]
) -> TenantOut:
    row = await TenantsRepository(context.pool).get(principal.tenant_id)
    if row is None:
        raise not_found("tenant")
    return TenantOut(id=row.id, name=row.name, created_at=row.created_at)


router = Router(
    path="/tenant",
    route_handlers=[get_tenant],
    tags=["tenant"],
    security=[{"bearer": []}],
    dependencies={"principal": Provide(authenticate)},
)
