"""A signed-in user's own two-factor sign-in: enrol a TOTP app, confirm it with a first code
(which hands out the recovery codes, once), see where it stands, remove it."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Router, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT

from api.auth import Principal, authenticate_enrolling
from api.common import audit
from api.context import ApiContext
from api.errors import ApiError, invalid, not_found, problems
from api.routes.auth import spend_second_factor
from api.sign_in_limits import count_attempt
from api.totp import (
    hash_recovery_code,
    matching_step,
    new_recovery_codes,
    new_secret,
    provisioning_uri,
)
from store.models import User
from store.repositories.config import UserRepository
from store.repositories.passkeys import PasskeyRepository
from store.repositories.tenants import TenantsRepository
from store.repositories.two_factor import TwoFactorRepository

Code = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class TwoFactorStatus(msgspec.Struct, kw_only=True):
    # A TOTP app is enrolled.
    enabled: bool
    recovery_codes_left: int
    passkeys: int
    # The tenant requires it for this user's role.
    required: bool


class TotpEnrolment(msgspec.Struct, kw_only=True):
    """Shown once: put `secret` (or `otpauth_uri`, as a QR code) in an authenticator app,
    then confirm with its first code."""

    secret: str
    otpauth_uri: str


class CodeRequest(msgspec.Struct, forbid_unknown_fields=True):
    code: Code


class RecoveryCodes(msgspec.Struct, kw_only=True):
    """Shown once; each signs in once when the authenticator app is lost."""

    codes: list[str]


async def signed_in_user(context: ApiContext, principal: Principal) -> User:
    """The principal's user; 403 for an API key, which has no second factor."""
    if principal.user_id is None:
        raise ApiError(403, "an API key has no second factor; sign in as a user")
    user = await UserRepository(context.pool).get(principal.tenant_id, principal.user_id)
    if user is None:
        raise not_found("user")
    return user


@get("/", operation_id="getTwoFactor", responses=problems(401, 403, 429))
async def get_two_factor(
    principal: NamedDependency[Principal], context: NamedDependency[ApiContext]
) -> TwoFactorStatus:
    user = await signed_in_user(context, principal)
    tenant = await TenantsRepository(context.pool).get(principal.tenant_id)
    left = await TwoFactorRepository(context.pool, context.box).recovery_codes_left(
        user.tenant_id, user.id
    )
    return TwoFactorStatus(
        enabled=user.totp_enabled_at is not None,
        recovery_codes_left=left,
        passkeys=await PasskeyRepository(context.pool).count(user.tenant_id, user.id),
        required=principal.can_write and tenant is not None and tenant.require_two_factor,
    )


@post("/totp", operation_id="startTotpEnrolment", responses=problems(401, 403, 409, 429))
async def start_totp(
    principal: NamedDependency[Principal], context: NamedDependency[ApiContext]
) -> TotpEnrolment:
    user = await signed_in_user(context, principal)
    secret = new_secret()
    if not await TwoFactorRepository(context.pool, context.box).start(
        user.tenant_id, user.id, secret
    ):
        raise ApiError(409, "two-factor is already on; remove it first to enrol another app")
    return TotpEnrolment(secret=secret, otpauth_uri=provisioning_uri(secret, user.email))


@post(
    "/totp/confirm",
    operation_id="confirmTotpEnrolment",
    status_code=200,
    responses=problems(400, 401, 403, 409, 429),
)
async def confirm_totp(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    data: JSONBody[CodeRequest],
) -> RecoveryCodes:
    user = await signed_in_user(context, principal)
    repository = TwoFactorRepository(context.pool, context.box)
    secret = repository.secret(user)
    if secret is None or user.totp_enabled_at is not None:
        raise ApiError(409, "no enrolment is waiting for confirmation")
    step = matching_step(secret, data.code.strip())
    if step is None:
        raise invalid("code", "does not match the app's current code (check the phone's clock)")
    codes = new_recovery_codes()
    if not await repository.enable(
        user.tenant_id, user.id, step, [hash_recovery_code(c) for c in codes]
    ):
        raise ApiError(409, "no enrolment is waiting for confirmation")
    await audit(context, principal, "enable_two_factor", "user", user.id, after={"method": "totp"})
    return RecoveryCodes(codes=codes)


@post(
    "/disable",
    operation_id="disableTwoFactor",
    status_code=HTTP_204_NO_CONTENT,
    responses=problems(400, 401, 403, 409, 429),
)
async def disable_two_factor(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    data: JSONBody[CodeRequest],
) -> None:
    user = await signed_in_user(context, principal)
    if user.totp_enabled_at is None:
        raise ApiError(409, "two-factor is not on")
    # A stolen session must not be able to guess its way to removing the second factor.
    await count_attempt(context, request, user.email)
    method = await spend_second_factor(context, user, data.code)
    if method is None:
        # Not a 401: the session is fine, and clients take a 401 as "signed out".
        raise invalid("code", "wrong code")
    await TwoFactorRepository(context.pool, context.box).disable(user.tenant_id, user.id)
    await audit(
        context, principal, "disable_two_factor", "user", user.id, after={"proved_by": method}
    )


@post(
    "/recovery-codes",
    operation_id="regenerateRecoveryCodes",
    status_code=200,
    summary="Replace the recovery codes (the old ones stop working at once)",
    responses=problems(400, 401, 403, 409, 429),
)
async def regenerate_recovery_codes(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    data: JSONBody[CodeRequest],
) -> RecoveryCodes:
    user = await signed_in_user(context, principal)
    if user.totp_enabled_at is None:
        raise ApiError(409, "two-factor is not on")
    # A session alone is not enough: whoever holds the new codes can sign in without the app.
    await count_attempt(context, request, user.email)
    method = await spend_second_factor(context, user, data.code)
    if method is None:
        raise invalid("code", "wrong code")
    codes = new_recovery_codes()
    if not await TwoFactorRepository(context.pool, context.box).replace_recovery_codes(
        user.tenant_id, user.id, [hash_recovery_code(c) for c in codes]
    ):
        raise ApiError(409, "two-factor is not on")
    await audit(
        context,
        principal,
        "regenerate_recovery_codes",
        "user",
        user.id,
        after={"proved_by": method},
    )
    return RecoveryCodes(codes=codes)


router = Router(
    path="/auth/two-factor",
    route_handlers=[
        get_two_factor,
        start_totp,
        confirm_totp,
        disable_two_factor,
        regenerate_recovery_codes,
    ],
    tags=["auth"],
    security=[{"bearer": []}],
    dependencies={"principal": Provide(authenticate_enrolling)},
)
