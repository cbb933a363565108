"""Sign-in for the UI: email + password → a session token; logout; who am I."""

from __future__ import annotations

import secrets
import uuid
from typing import Annotated, Any

import msgspec
from litestar import Request, Router, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT

from api.auth import (
    Principal,
    Role,
    Session,
    authenticate,
    bearer_token,
    close_session,
    credential_fingerprint,
    open_session,
)
from api.context import ApiContext
from api.errors import ApiError, problems
from store.rate_limits import RateLimiter
from store.repositories.config import UserRepository
from store.secrets import hash_password, verify_password

# Whitespace spelled out: `\s` means more in Python than in the schema's (ECMA) regex dialect.
Email = Annotated[
    str,
    msgspec.Meta(min_length=3, max_length=254, pattern=r"^[^@ \t\r\n\f\v]+@[^@ \t\r\n\f\v]+$"),
]


class LoginRequest(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


class LoginResponse(msgspec.Struct):
    token: str
    expires_in: int
    user: Me


class Me(msgspec.Struct, kw_only=True):
    """The signed-in caller."""

    tenant_id: uuid.UUID
    role: Role
    actor: str
    user_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None


_DECOY: list[str] = []


async def _decoy_hash() -> str:
    """A password hash nobody's password matches, made once per process."""
    if not _DECOY:
        _DECOY.append(await hash_password(secrets.token_urlsafe(16)))
    return _DECOY[0]


def _client_ip(request: Request[Any, Any, Any]) -> str:
    # uvicorn rewrites the client from X-Forwarded-For only for the operator's trusted proxies.
    return request.client.host if request.client else "unknown"


def _attempt_keys(email: str, ip: str) -> list[str]:
    return [f"login:email:{email.lower()}", f"login:ip:{ip}"]


async def _count_attempt(context: ApiContext, names: list[str]) -> None:
    """Count this attempt per account and per address before any password is checked; 429
    when either is over its limit. Counting first is atomic in Redis, so concurrent guesses
    cannot all pass a check made before the others were counted."""
    settings = context.settings
    limiter = RateLimiter(context.redis)
    limits = (settings.login_attempts_per_email, settings.login_attempts_per_ip)
    for name, limit in zip(names, limits, strict=True):
        result = await limiter.hit(name, limit, settings.login_window_s)
        if not result.allowed:
            raise ApiError(
                429,
                "too many sign-in attempts; try again later",
                headers={"Retry-After": str(result.retry_after_s)},
            )


async def _check_password(password: str, stored: str | None) -> bool:
    """Whether `password` matches; an unknown account (`stored` None) costs the same scrypt
    as a known one, so timing does not reveal which accounts exist."""
    return await verify_password(password, stored or await _decoy_hash())


@post(
    "/login",
    operation_id="login",
    status_code=200,
    summary="Sign in with email and password",
    responses=problems(400, 401, 429, 503),
)
async def login(
    request: Request[Any, Any, Any],
    data: JSONBody[LoginRequest],
    context: NamedDependency[ApiContext],
) -> LoginResponse:
    account, address = _attempt_keys(data.email, _client_ip(request))
    await _count_attempt(context, [account, address])
    user = await UserRepository(context.pool).find_for_login(data.email)
    stored = user.password_hash if user is not None else None
    if not await _check_password(data.password, stored) or user is None:
        raise ApiError(401, "wrong email or password")
    # The account's count starts over; the address's does not, or one known password would
    # let its holder keep guessing other accounts' passwords.
    await RateLimiter(context.redis).reset(account, context.settings.login_window_s)
    role: Role = user.role  # type: ignore[assignment]  # the table's CHECK keeps it a Role
    session = Session(
        user_id=user.id,
        tenant_id=user.tenant_id,
        credential=credential_fingerprint(user.password_hash),
    )
    token = await open_session(context, session)
    return LoginResponse(
        token=token,
        expires_in=context.settings.session_ttl_s,
        user=Me(tenant_id=user.tenant_id, role=role, actor=user.email, user_id=user.id),
    )


@post(
    "/logout",
    operation_id="logout",
    summary="End the current session",
    status_code=HTTP_204_NO_CONTENT,
    responses=problems(401),
    dependencies={"principal": Provide(authenticate)},
    security=[{"bearer": []}],
)
async def logout(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
) -> None:
    token = bearer_token(request)
    if token is not None and principal.user_id is not None:
        await close_session(context, token)


@get(
    "/me",
    operation_id="getMe",
    summary="The signed-in caller",
    responses=problems(401, 429),
    dependencies={"principal": Provide(authenticate)},
    security=[{"bearer": []}],
)
async def me(principal: NamedDependency[Principal]) -> Me:
    return Me(
        tenant_id=principal.tenant_id,
        role=principal.role,
        actor=principal.actor,
        user_id=principal.user_id,
        api_key_id=principal.api_key_id,
    )


router = Router(
    path="/auth",
    route_handlers=[login, logout, me],
    tags=["auth"],
)
