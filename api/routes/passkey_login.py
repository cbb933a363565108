"""The second step of signing in with a passkey: options for navigator.credentials.get() with
the user's passkeys, then the assertion checked and the session opened."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Router, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from api.auth import spend_pending_login
from api.context import ApiContext
from api.errors import ApiError, invalid, problems
from api.routes.auth import LoginResponse, pending_user, signed_in
from api.routes.passkeys import PasskeyOptions
from api.webauthn_ceremony import (
    authentication_options,
    credential_id,
    relying_party,
    verified_sign_count,
)
from store.repositories.passkeys import PasskeyRepository

PendingToken = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class PasskeyOptionsRequest(msgspec.Struct, forbid_unknown_fields=True):
    pending_token: PendingToken


class PasskeyAssertion(msgspec.Struct, forbid_unknown_fields=True):
    pending_token: PendingToken
    # What navigator.credentials.get() gave, as PublicKeyCredential.toJSON() encodes it.
    credential: dict[str, Any]


@post(
    "/options",
    operation_id="startPasskeySignIn",
    status_code=200,
    summary="Options for signing the pending sign-in with one of the user's passkeys",
    responses=problems(400, 401, 409, 429),
)
async def options(
    request: Request[Any, Any, Any],
    context: NamedDependency[ApiContext],
    data: JSONBody[PasskeyOptionsRequest],
) -> PasskeyOptions:
    _, user = await pending_user(context, request, data.pending_token)
    passkeys = await PasskeyRepository(context.pool).of_user(user.tenant_id, user.id)
    if not passkeys:
        raise ApiError(409, "this account has no passkey: use a code instead")
    rp = relying_party(context.settings.public_url)
    return PasskeyOptions(
        options=await authentication_options(context, rp, data.pending_token, passkeys)
    )


@post(
    "/",
    operation_id="finishPasskeySignIn",
    status_code=200,
    summary="Finish signing in with a passkey",
    responses=problems(400, 401, 409, 429),
)
async def finish(
    request: Request[Any, Any, Any],
    context: NamedDependency[ApiContext],
    data: JSONBody[PasskeyAssertion],
) -> LoginResponse:
    pending, user = await pending_user(context, request, data.pending_token)
    repository = PasskeyRepository(context.pool)
    passkey = await repository.find(user.tenant_id, user.id, credential_id(data.credential))
    if passkey is None:
        raise invalid("credential", "not one of this account's passkeys")
    rp = relying_party(context.settings.public_url)
    count = await verified_sign_count(context, rp, data.pending_token, data.credential, passkey)
    if not await repository.use(passkey, count):
        raise invalid("credential", "this passkey was used meanwhile: sign in again")
    if not await spend_pending_login(context, data.pending_token):
        raise ApiError(401, "sign-in expired or unknown: enter your password again")
    return await signed_in(context, user, "password+passkey", break_glass=pending.break_glass)


router = Router(path="/auth/login/passkey", route_handlers=[options, finish], tags=["auth"])
