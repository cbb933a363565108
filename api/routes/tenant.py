"""The caller's tenant."""

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
from api.errors import ApiError, invalid, not_found, problems
from store.models import Tenant
from store.repositories.tenants import TenantsRepository


class TenantOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    # Owners and admins must sign in with a second factor (they enrol at their next sign-in).
    require_two_factor: bool
    # Users sign in through one of the tenant's SSO providers; password sign-in is refused,
    # except for owners with a second factor (break-glass, audited as such).
    require_sso: bool
    created_at: datetime


class TenantUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    require_two_factor: bool | msgspec.UnsetType = msgspec.UNSET
    require_sso: bool | msgspec.UnsetType = msgspec.UNSET


def _policy(row: Tenant) -> dict[str, bool]:
    return {"require_two_factor": row.require_two_factor, "require_sso": row.require_sso}


def _out(row: Tenant) -> TenantOut:
    return TenantOut(
        id=row.id,
        name=row.name,
        require_two_factor=row.require_two_factor,
        require_sso=row.require_sso,
        created_at=row.created_at,
    )


@get(
    "/",
    operation_id="getTenant",
    responses=problems(401, 404, 429),
    dependencies={"principal": Provide(authenticate)},
)
async def get_tenant(
    principal: NamedDependency[Principal], context: NamedDependency[ApiContext]
) -> TenantOut:
    row = await TenantsRepository(context.pool).get(principal.tenant_id)
    if row is None:
        raise not_found("tenant")
    return _out(row)


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
        raise ApiError(403, "only an owner can change the tenant's sign-in policy")
    repository = TenantsRepository(context.pool)
    before = await repository.get(principal.tenant_id)
    if before is None:
        raise not_found("tenant")
    row = before
    # The change that can be refused goes first, so a refusal changes nothing.
    if not isinstance(data.require_sso, msgspec.UnsetType):
        updated = await repository.set_require_sso(principal.tenant_id, data.require_sso)
        if updated is None:
            raise invalid("require_sso", "add an SSO provider first: nobody could sign in")
        row = updated
    if not isinstance(data.require_two_factor, msgspec.UnsetType):
        updated = await repository.set_require_two_factor(
            principal.tenant_id, data.require_two_factor
        )
        if updated is None:
            raise not_found("tenant")
        row = updated
    await audit(
        context, principal, "update", "tenant", row.id, before=_policy(before), after=_policy(row)
    )
    return _out(row)


router = Router(
    path="/tenant",
    route_handlers=[get_tenant, update_tenant],
    tags=["tenant"],
    security=[{"bearer": []}],
)
