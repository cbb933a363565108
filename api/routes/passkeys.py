"""A signed-in user's own passkeys (WebAuthn), a second factor: ask for registration options,
register what the browser made of them, list, remove. Adding and removing need a recent
sign-in (a passkey also signs in alone) and are audited."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Router, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT

from api.auth import Principal, authenticate_enrolling, require_fresh_sign_in
from api.common import audit
from api.context import ApiContext
from api.errors import ApiError, not_found, problems
from api.routes.two_factor import signed_in_user
from api.totp import hash_recovery_code, new_recovery_codes
from api.webauthn_ceremony import (
    registration_options,
    relying_party,
    verified_registration,
)
from store.models import Passkey
from store.repositories.base import Conflict
from store.repositories.passkeys import PasskeyRepository
from store.repositories.two_factor import TwoFactorRepository


class PasskeyOptions(msgspec.Struct, kw_only=True):
    """WebAuthn options as JSON: give them to PublicKeyCredential.parse…OptionsFromJSON()."""

    options: dict[str, Any]


class PasskeyCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    # What navigator.credentials.create() gave, as PublicKeyCredential.toJSON() encodes it.
    credential: dict[str, Any]


class PasskeyOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    created_at: datetime
    last_used_at: datetime | None


class PasskeyAdded(PasskeyOut, kw_only=True):
    """Shown once: recovery codes, when this is the user's first second factor (each signs in
    once if the passkey is lost); empty otherwise."""

    recovery_codes: list[str]


class PasskeyList(msgspec.Struct, kw_only=True):
    items: list[PasskeyOut]


def _out(row: Passkey) -> PasskeyOut:
    return PasskeyOut(
        id=row.id, name=row.name, created_at=row.created_at, last_used_at=row.last_used_at
    )


@get("/", operation_id="listPasskeys", responses=problems(401, 403, 429))
async def list_passkeys(
    principal: NamedDependency[Principal], context: NamedDependency[ApiContext]
) -> PasskeyList:
    user = await signed_in_user(context, principal)
    rows = await PasskeyRepository(context.pool).of_user(user.tenant_id, user.id)
    return PasskeyList(items=[_out(r) for r in rows])


@post(
    "/registration-options",
    operation_id="startPasskeyRegistration",
    status_code=200,
    responses=problems(401, 403, 409, 429),
)
async def start_registration(
    principal: NamedDependency[Principal], context: NamedDependency[ApiContext]
) -> PasskeyOptions:
    require_fresh_sign_in(principal, "add a passkey")
    user = await signed_in_user(context, principal)
    rp = relying_party(context.settings.public_url)
    existing = await PasskeyRepository(context.pool).of_user(user.tenant_id, user.id)
    return PasskeyOptions(options=await registration_options(context, rp, user, existing))


@post("/", operation_id="registerPasskey", responses=problems(400, 401, 403, 409, 429))
async def register_passkey(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    data: JSONBody[PasskeyCreate],
) -> PasskeyAdded:
    require_fresh_sign_in(principal, "add a passkey")
    user = await signed_in_user(context, principal)
    rp = relying_party(context.settings.public_url)
    verified = await verified_registration(context, rp, user, data.credential)
    response = data.credential.get("response")
    transports = response.get("transports", []) if isinstance(response, dict) else []
    try:
        row = await PasskeyRepository(context.pool).add(
            user.tenant_id,
            user.id,
            name=data.name,
            credential_id=verified.credential_id,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            transports=[t for t in transports if isinstance(t, str)],
        )
    except Conflict:
        raise ApiError(409, "this passkey is registered already") from None
    await audit(context, principal, "add_passkey", "user", user.id, after={"passkey": row.name})
    codes = [] if user.totp_enabled_at is not None else new_recovery_codes()
    if codes and not await TwoFactorRepository(context.pool, context.box).give_first_recovery_codes(
        user.tenant_id, user.id, [hash_recovery_code(c) for c in codes]
    ):
        codes = []
    return PasskeyAdded(**msgspec.structs.asdict(_out(row)), recovery_codes=codes)


@delete(
    "/{passkey_id:uuid}",
    operation_id="deletePasskey",
    status_code=HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404, 429),
)
async def delete_passkey(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    passkey_id: FromPath[uuid.UUID],
) -> None:
    require_fresh_sign_in(principal, "remove a passkey")
    user = await signed_in_user(context, principal)
    name = await PasskeyRepository(context.pool).delete(user.tenant_id, user.id, passkey_id)
    if name is None:
        raise not_found("passkey")
    await audit(context, principal, "remove_passkey", "user", user.id, before={"passkey": name})


router = Router(
    path="/auth/passkeys",
    route_handlers=[list_passkeys, start_registration, register_passkey, delete_passkey],
    tags=["auth"],
    security=[{"bearer": []}],
    dependencies={"principal": Provide(authenticate_enrolling)},
)
