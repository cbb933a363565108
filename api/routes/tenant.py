"""The caller's tenant and its settings (e.g. whether webhooks may reach private addresses)."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec
from litestar import Router, get, patch
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody

from api.auth import Principal, authenticate, authenticate_writer
from api.common import audit
from api.context import ApiContext
from api.errors import ApiError, not_found, problems
from store.models import Tenant
from store.repositories.tenants import TenantsRepository


class TenantOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    allow_private_webhooks: bool
    created_at: datetime


class TenantUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`allow_private_webhooks`: let webhooks reach loopback, private and link-local
    addresses (an on-premise receiver); owners only."""

    allow_private_webhooks: bool | msgspec.UnsetType = msgspec.UNSET


def _out(row: Tenant) -> TenantOut:
    return TenantOut(
        id=row.id,
        name=row.name,
        allow_private_webhooks=row.allow_private_webhooks,
        created_at=row.created_at,
    )


async def _get(context: ApiContext, tenant_id: uuid.UUID) -> Tenant:
    row = await TenantsRepository(context.pool).get(tenant_id)
    if row is None:
        raise not_found("tenant")
    return row


@get("/", operation_id="getTenant", responses=problems(401, 404, 429))
async def get_tenant(
    principal: NamedDependency[Principal], context: NamedDependency[ApiContext]
) -> TenantOut:
    return _out(await _get(context, principal.tenant_id))


@patch(
    "/",
    operation_id="updateTenant",
    responses=problems(400, 401, 403, 404, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def update_tenant(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    data: JSONBody[TenantUpdate],
) -> TenantOut:
    if principal.role != "owner":
        raise ApiError(403, "only an owner can change tenant settings")
    repository = TenantsRepository(context.pool)
    before = await _get(context, principal.tenant_id)
    if not isinstance(data.allow_private_webhooks, msgspec.UnsetType):
        await repository.set_allow_private_webhooks(
            principal.tenant_id, data.allow_private_webhooks
        )
    after = await _get(context, principal.tenant_id)
    await audit(
        context,
        principal,
        "update",
        "tenant",
        principal.tenant_id,
        before=_out(before),
        after=_out(after),
    )
    return _out(after)


router = Router(
    path="/tenant",
    route_handlers=[get_tenant, update_tenant],
    tags=["tenant"],
    security=[{"bearer": []}],
    dependencies={"principal": Provide(authenticate)},
)
