"""A tenant's "require SSO" policy at password (or passkey) sign-in, and its break-glass
path: an owner with a second factor may still sign in without SSO, so an identity provider that is
down or misconfigured does not lock the tenant out. Such a sign-in is audited as break-glass."""

from __future__ import annotations

from api.auth import second_factors
from api.context import ApiContext
from api.errors import ApiError
from store.models import User
from store.repositories.tenants import TenantsRepository

BREAK_GLASS_ROLE = "owner"


async def sso_break_glass(context: ApiContext, user: User) -> bool:
    """Whether this sign-in without SSO (password or passkey, already checked) is a
    break-glass one; 403 when the user's tenant requires SSO and the user may not break the
    glass."""
    tenant = await TenantsRepository(context.pool).get(user.tenant_id)
    if tenant is None or not tenant.require_sso:
        return False
    if user.role == BREAK_GLASS_ROLE and await second_factors(context, user):
        return True
    raise ApiError(
        403, "your organisation signs in with single sign-on: use its button on the sign-in page"
    )
