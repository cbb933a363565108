"""The tenant's users: who may sign in to the UI, with which role."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Router, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT

from api.auth import Principal, Role, authenticate, authenticate_writer
from api.common import DEFAULT_LIMIT, Limit, Offset, audit, sort_param
from api.context import ApiContext
from api.errors import ApiError, not_found, problems
from api.routes.auth import Email
from store.models import User
from store.repositories.config import UserRepository
from store.repositories.passkeys import PasskeyRepository
from store.repositories.two_factor import TwoFactorRepository
from store.secrets import hash_password

# NIST SP 800-63B: at least 8 characters; long passphrases welcome.
Password = Annotated[str, msgspec.Meta(min_length=8, max_length=256)]


class UserOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    email: str
    role: Role
    # A TOTP app or a passkey.
    two_factor_enabled: bool
    created_at: datetime
    updated_at: datetime


class UserList(msgspec.Struct, kw_only=True):
    items: list[UserOut]
    total: int
    limit: int
    offset: int


class UserCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    email: Email
    password: Password
    role: Role = "viewer"


class UserUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    password: Password | msgspec.UnsetType = msgspec.UNSET
    role: Role | msgspec.UnsetType = msgspec.UNSET


async def _outs(context: ApiContext, rows: list[User]) -> list[UserOut]:
    if not rows:
        return []
    with_passkeys = await PasskeyRepository(context.pool).users_with_passkeys(
        rows[0].tenant_id, [r.id for r in rows]
    )
    return [_out(r, has_passkey=r.id in with_passkeys) for r in rows]


async def _one(context: ApiContext, row: User) -> UserOut:
    return (await _outs(context, [row]))[0]


def _out(row: User, *, has_passkey: bool) -> UserOut:
    return UserOut(
        id=row.id,
        email=row.email,
        role=row.role,  # type: ignore[arg-type]  # the table's CHECK keeps it a Role
        two_factor_enabled=row.totp_enabled_at is not None or has_passkey,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _public(row: User) -> dict[str, object]:
    return {"email": row.email, "role": row.role}


def _check_owner_grant(principal: Principal, role: str) -> None:
    if role == "owner" and principal.role != "owner":
        raise ApiError(403, "only an owner can grant the owner role")


@get(
    "/",
    operation_id="listUsers",
    responses=problems(400, 401, 429),
    dependencies={"principal": Provide(authenticate)},
)
async def list_users(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
    role: FromQuery[Role | None] = None,
    sort: Annotated[str, sort_param(UserRepository.sortable)] = "email",
) -> UserList:
    filters = {} if role is None else {"role": role}
    page = await UserRepository(context.pool).list_page(
        principal.tenant_id, filters=filters, sort=sort, limit=limit, offset=offset
    )
    return UserList(
        items=await _outs(context, page.items),
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@post(
    "/",
    operation_id="createUser",
    responses=problems(400, 401, 403, 409, 422, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def create_user(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    data: JSONBody[UserCreate],
) -> UserOut:
    _check_owner_grant(principal, data.role)
    row = await UserRepository(context.pool).create(
        principal.tenant_id,
        {
            "email": data.email,
            "password_hash": await hash_password(data.password),
            "role": data.role,
        },
    )
    await audit(context, principal, "create", "user", row.id, after=_public(row))
    return await _one(context, row)


@get(
    "/{user_id:uuid}",
    operation_id="getUser",
    responses=problems(401, 404, 429),
    dependencies={"principal": Provide(authenticate)},
)
async def get_user(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    user_id: FromPath[uuid.UUID],
) -> UserOut:
    row = await UserRepository(context.pool).get(principal.tenant_id, user_id)
    if row is None:
        raise not_found("user")
    return await _one(context, row)


@patch(
    "/{user_id:uuid}",
    operation_id="updateUser",
    responses=problems(400, 401, 403, 404, 422, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def update_user(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    user_id: FromPath[uuid.UUID],
    data: JSONBody[UserUpdate],
) -> UserOut:
    repository = UserRepository(context.pool)
    before = await repository.get(principal.tenant_id, user_id)
    if before is None:
        raise not_found("user")
    values: dict[str, object] = {}
    if not isinstance(data.role, msgspec.UnsetType):
        _check_owner_grant(principal, data.role)
        if before.role == "owner" and principal.role != "owner":
            raise ApiError(403, "only an owner can change an owner's role")
        values["role"] = data.role
    if not isinstance(data.password, msgspec.UnsetType):
        values["password_hash"] = await hash_password(data.password)
    row = await repository.update(principal.tenant_id, user_id, values)
    if row is None:
        raise not_found("user")
    changed = {**_public(row), **({"password": "changed"} if "password_hash" in values else {})}
    await audit(
        context, principal, "update", "user", user_id, before=_public(before), after=changed
    )
    return await _one(context, row)


@delete(
    "/{user_id:uuid}",
    operation_id="deleteUser",
    status_code=HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404, 409, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def delete_user(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    user_id: FromPath[uuid.UUID],
) -> None:
    repository = UserRepository(context.pool)
    row = await repository.get(principal.tenant_id, user_id)
    if row is None:
        raise not_found("user")
    if row.id == principal.user_id:
        raise ApiError(409, "you cannot delete yourself")
    if row.role == "owner" and principal.role != "owner":
        raise ApiError(403, "only an owner can delete an owner")
    await repository.delete(principal.tenant_id, user_id)
    await audit(context, principal, "delete", "user", user_id, before=_public(row))


@delete(
    "/{user_id:uuid}/two-factor",
    operation_id="removeUserTwoFactor",
    summary="Remove a user's second factors, TOTP and passkeys (a lost phone or key); they "
    "sign in with the password",
    status_code=HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404, 409, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def remove_user_two_factor(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    user_id: FromPath[uuid.UUID],
) -> None:
    row = await UserRepository(context.pool).get(principal.tenant_id, user_id)
    if row is None:
        raise not_found("user")
    if row.role == "owner" and principal.role != "owner":
        raise ApiError(403, "only an owner can remove an owner's second factor")
    totp = await TwoFactorRepository(context.pool, context.box).disable(
        principal.tenant_id, user_id
    )
    passkeys = await PasskeyRepository(context.pool).delete_all(principal.tenant_id, user_id)
    if not totp and not passkeys:
        raise ApiError(409, "two-factor is not on for this user")
    await audit(
        context,
        principal,
        "disable_two_factor",
        "user",
        user_id,
        before=_public(row),
        after={"totp_removed": totp, "passkeys_removed": passkeys},
    )


router = Router(
    path="/users",
    route_handlers=[
        list_users,
        create_user,
        get_user,
        update_user,
        delete_user,
        remove_user_two_factor,
    ],
    tags=["users"],
    security=[{"bearer": []}],
)
