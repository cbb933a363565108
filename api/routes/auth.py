"""Sign-in for the UI: email + password (then a TOTP or recovery code when the user has
two-factor on) → a session token; logout; who am I."""

from __future__ import annotations

import secrets
import time
import uuid
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from api.auth import (
    PENDING_LOGIN_TTL_S,
    PendingLogin,
    Principal,
    Role,
    Session,
    authenticate_enrolling,
    bearer_token,
    close_session,
    credential_fingerprint,
    find_pending_login,
    must_enrol_two_factor,
    open_pending_login,
    open_session,
    second_factors,
    spend_pending_login,
    user_principal,
)
from api.common import audit
from api.context import ApiContext
from api.errors import ApiError, problems
from api.sign_in_limits import count_attempt, forget_account_attempts
from api.sign_in_policy import sso_break_glass
from api.totp import hash_recovery_code, is_totp_code, matching_step
from store.models import User
from store.repositories.config import UserRepository
from store.repositories.two_factor import TwoFactorRepository
from store.secrets import has_password, hash_password, verify_password

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


class SecondFactorChallenge(msgspec.Struct, kw_only=True):
    """The password was right; within `expires_in` seconds, send a code from the
    authenticator app (or a recovery code) with `pending_token` to /auth/login/second-factor,
    or sign with a passkey at /auth/login/passkey. `methods` says which the account has."""

    pending_token: str
    expires_in: int
    methods: list[str]


class SecondFactorRequest(msgspec.Struct, forbid_unknown_fields=True):
    pending_token: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class Me(msgspec.Struct, kw_only=True):
    """The signed-in caller."""

    tenant_id: uuid.UUID
    role: Role
    actor: str
    user_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    must_enrol_two_factor: bool = False


_DECOY: list[str] = []


async def _decoy_hash() -> str:
    """A password hash nobody's password matches, made once per process."""
    if not _DECOY:
        _DECOY.append(await hash_password(secrets.token_urlsafe(16)))
    return _DECOY[0]


async def _check_password(password: str, stored: str | None) -> bool:
    """Whether `password` matches; an unknown account (`stored` None) costs the same scrypt
    as a known one, so timing does not reveal which accounts exist."""
    return await verify_password(password, stored or await _decoy_hash())


async def signed_in(
    context: ApiContext, user: User, method: str, *, break_glass: bool = False
) -> LoginResponse:
    """Open the session, start the account's attempt count over, audit the sign-in."""
    await forget_account_attempts(context, user.email)
    session = Session(
        user_id=user.id,
        tenant_id=user.tenant_id,
        credential=credential_fingerprint(user.password_hash),
        opened_at=time.time(),
    )
    token = await open_session(context, session)
    principal = user_principal(user)
    after: dict[str, object] = {"method": method}
    if break_glass:
        after["break_glass"] = True
    await audit(context, principal, "sign_in", "user", user.id, after=after)
    return LoginResponse(
        token=token,
        expires_in=context.settings.session_ttl_s,
        user=Me(
            tenant_id=user.tenant_id,
            role=principal.role,
            actor=user.email,
            user_id=user.id,
            must_enrol_two_factor=await must_enrol_two_factor(context, user),
        ),
    )


@post(
    "/login",
    operation_id="login",
    status_code=200,
    summary="Sign in with email and password",
    description="200 with a session when that is all the account needs; 202 with a pending "
    "token when the account has two-factor on (finish at /auth/login/second-factor). 403 when "
    "the tenant requires SSO, unless the user is an owner with two-factor on (break-glass).",
    responses={
        **problems(400, 401, 403, 429, 503),
        # Declared, or the 200 would read as either body.
        HTTP_200_OK: ResponseSpec(LoginResponse, description="Signed in"),
        HTTP_202_ACCEPTED: ResponseSpec(
            SecondFactorChallenge, description="The password was right; a second factor is due"
        ),
    },
)
async def login(
    request: Request[Any, Any, Any],
    data: JSONBody[LoginRequest],
    context: NamedDependency[ApiContext],
) -> Response[LoginResponse | SecondFactorChallenge]:
    await count_attempt(context, request, data.email)
    user = await UserRepository(context.pool).find_for_login(data.email)
    # An account with no password (made by SSO) costs the decoy's scrypt too.
    stored = user.password_hash if user is not None and has_password(user.password_hash) else None
    if not await _check_password(data.password, stored) or user is None:
        raise ApiError(401, "wrong email or password")
    # Only after the password: the policy must not tell strangers which accounts exist.
    break_glass = await sso_break_glass(context, user)
    factors = await second_factors(context, user)
    if not factors:
        return Response(await signed_in(context, user, "password"))
    pending = PendingLogin(
        user_id=user.id,
        tenant_id=user.tenant_id,
        email=user.email,
        credential=credential_fingerprint(user.password_hash),
        break_glass=break_glass,
    )
    challenge = SecondFactorChallenge(
        pending_token=await open_pending_login(context, pending),
        expires_in=PENDING_LOGIN_TTL_S,
        methods=[*factors, "recovery_code"],
    )
    return Response(challenge, status_code=HTTP_202_ACCEPTED)


async def spend_second_factor(context: ApiContext, user: User, code: str) -> str | None:
    """Which second factor `code` is ("totp", "recovery_code"), spent; None when neither."""
    repository = TwoFactorRepository(context.pool, context.box)
    code = code.strip()
    if is_totp_code(code):
        secret = repository.secret(user)
        step = None if secret is None else matching_step(secret, code)
        if step is not None and await repository.use_step(user.tenant_id, user.id, step):
            return "totp"
        return None
    if await repository.use_recovery_code(user.tenant_id, user.id, hash_recovery_code(code)):
        return "recovery_code"
    return None


_PENDING_GONE = "sign-in expired or unknown: enter your password again"


async def pending_user(
    context: ApiContext, request: Request[Any, Any, Any], pending_token: str
) -> tuple[PendingLogin, User]:
    """The sign-in waiting for its second factor, and its user as they are now; 401 when it
    expired, or the password changed meanwhile. Counted with the password attempts."""
    pending = await find_pending_login(context, pending_token)
    if pending is None:
        raise ApiError(401, _PENDING_GONE)
    await count_attempt(context, request, pending.email)
    user = await UserRepository(context.pool).get(pending.tenant_id, pending.user_id)
    if user is None or credential_fingerprint(user.password_hash) != pending.credential:
        await spend_pending_login(context, pending_token)
        raise ApiError(401, _PENDING_GONE)
    return pending, user


@post(
    "/login/second-factor",
    operation_id="loginSecondFactor",
    status_code=200,
    summary="Finish signing in with a TOTP code or a recovery code",
    responses=problems(400, 401, 429, 503),
)
async def login_second_factor(
    request: Request[Any, Any, Any],
    data: JSONBody[SecondFactorRequest],
    context: NamedDependency[ApiContext],
) -> LoginResponse:
    pending, user = await pending_user(context, request, data.pending_token)
    method = await spend_second_factor(context, user, data.code)
    if method is None:
        raise ApiError(401, "wrong code")
    if not await spend_pending_login(context, data.pending_token):
        raise ApiError(401, _PENDING_GONE)
    return await signed_in(context, user, f"password+{method}", break_glass=pending.break_glass)


@post(
    "/logout",
    operation_id="logout",
    summary="End the current session",
    status_code=HTTP_204_NO_CONTENT,
    responses=problems(401),
    dependencies={"principal": Provide(authenticate_enrolling)},
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
    dependencies={"principal": Provide(authenticate_enrolling)},
    security=[{"bearer": []}],
)
async def me(principal: NamedDependency[Principal]) -> Me:
    return Me(
        tenant_id=principal.tenant_id,
        role=principal.role,
        actor=principal.actor,
        user_id=principal.user_id,
        api_key_id=principal.api_key_id,
        must_enrol_two_factor=principal.must_enrol_two_factor,
    )


router = Router(
    path="/auth",
    route_handlers=[login, login_second_factor, logout, me],
    tags=["auth"],
)
