"""Signing in with a passkey alone, no password: the browser offers any passkey it holds for
this site (a discoverable credential), the authenticator verifies the user (PIN, fingerprint),
and the signature identifies the account. In a tenant that requires SSO only owners may
(the same break-glass path as with a password)."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

import msgspec
from litestar import Request, Router, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from api.context import ApiContext
from api.errors import ApiError, problems
from api.routes.auth import LoginResponse, signed_in
from api.sign_in_limits import count_attempt
from api.sign_in_policy import sso_break_glass
from api.webauthn_ceremony import (
    authentication_options,
    credential_id,
    relying_party,
    verified_sign_count,
)
from store.repositories.config import UserRepository
from store.repositories.passkeys import PasskeyRepository

_CEREMONY_BYTES = 32
_UNKNOWN = "this passkey is not registered here (or was removed)"


class PasswordlessOptions(msgspec.Struct, kw_only=True):
    """WebAuthn options as JSON, and the ceremony to send back with what the browser made."""

    ceremony: str
    options: dict[str, Any]


class PasswordlessAssertion(msgspec.Struct, forbid_unknown_fields=True):
    ceremony: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    # What navigator.credentials.get() gave, as PublicKeyCredential.toJSON() encodes it.
    credential: dict[str, Any]


@post(
    "/options",
    operation_id="startPasswordlessSignIn",
    status_code=200,
    summary="Options for signing in with a passkey alone",
    responses=problems(409, 429),
)
async def options(
    request: Request[Any, Any, Any], context: NamedDependency[ApiContext]
) -> PasswordlessOptions:
    await count_attempt(context, request, None)
    rp = relying_party(context.settings.public_url)
    ceremony = secrets.token_urlsafe(_CEREMONY_BYTES)
    return PasswordlessOptions(
        ceremony=ceremony, options=await authentication_options(context, rp, ceremony, [])
    )


@post(
    "/",
    operation_id="finishPasswordlessSignIn",
    status_code=200,
    summary="Sign in with a passkey alone",
    responses=problems(400, 401, 403, 409, 429),
)
async def finish(
    request: Request[Any, Any, Any],
    context: NamedDependency[ApiContext],
    data: JSONBody[PasswordlessAssertion],
) -> LoginResponse:
    await count_attempt(context, request, None)
    repository = PasskeyRepository(context.pool)
    passkey = await repository.find_any(credential_id(data.credential))
    if passkey is None:
        raise ApiError(401, _UNKNOWN)
    user = await UserRepository(context.pool).get(passkey.tenant_id, passkey.user_id)
    if user is None:
        raise ApiError(401, _UNKNOWN)
    rp = relying_party(context.settings.public_url)
    count = await verified_sign_count(
        context, rp, data.ceremony, data.credential, passkey, passwordless=True
    )
    break_glass = await sso_break_glass(context, user)
    if not await repository.use(passkey, count):
        raise ApiError(401, "this passkey was used meanwhile: sign in again")
    return await signed_in(context, user, "passkey", break_glass=break_glass)


router = Router(path="/auth/passkey-sign-in", route_handlers=[options, finish], tags=["auth"])
