"""Who is calling: a UI session token or an API key, each resolved to a tenant-scoped principal.

Session tokens are random; Redis keeps only their SHA-256, with the session's TTL. API keys are
looked up by prefix, compared by hash, refused once revoked, and counted against their
per-minute and per-day limits.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from typing import Any, Literal

import msgspec
from litestar import Request
from litestar.datastructures import State

from api.context import ApiContext
from api.errors import ApiError
from store.models import User
from store.rate_limits import RateLimiter
from store.redis import KEY_PREFIX
from store.repositories.config import ApiKeyRepository, UserRepository
from store.repositories.passkeys import PasskeyRepository
from store.repositories.tenants import TenantsRepository
from store.secrets import api_key_matches, api_key_prefix

Role = Literal["owner", "admin", "viewer"]
WRITE_ROLES: frozenset[str] = frozenset({"owner", "admin"})
_SESSION_TOKEN_BYTES = 32
# Between a right password and the second factor: time to open the app and type a code.
PENDING_LOGIN_TTL_S = 5 * 60
# Writing last_used_at on every request would make reads write; once a minute is precise enough.
_TOUCH_INTERVAL_S = 60.0
# How recent a sign-in must be to add or remove a passkey ("sudo mode").
FRESH_SIGN_IN_S = 10 * 60
_MINUTE_S = 60
_DAY_S = 86_400


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """The authenticated caller. `actor` is what the audit log records."""

    tenant_id: uuid.UUID
    role: Role
    actor: str
    user_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    # The tenant requires two-factor for this user's role and they have not enrolled yet:
    # until they do, only enrolment (and who am I, sign out) is open to them.
    must_enrol_two_factor: bool = False
    # When the session was opened (Unix time); None for an API key.
    signed_in_at: float | None = None

    @property
    def can_write(self) -> bool:
        return self.role in WRITE_ROLES


def require_fresh_sign_in(principal: Principal, what: str) -> None:
    """403 unless the caller signed in within FRESH_SIGN_IN_S: a stolen session alone must not
    be able to add (or remove) a way to sign in."""
    if principal.signed_in_at is None or time.time() - principal.signed_in_at > FRESH_SIGN_IN_S:
        raise ApiError(
            403,
            f"sign in again to {what} (it needs a sign-in of the last "
            f"{FRESH_SIGN_IN_S // 60} minutes)",
        )


class Session(msgspec.Struct, frozen=True):
    """What Redis keeps for a session token. `credential` fingerprints the password hash the
    session was opened with, so a password change ends every older session."""

    user_id: uuid.UUID
    tenant_id: uuid.UUID
    credential: str
    # When the user signed in (Unix time); 0 for sessions opened before this was kept.
    opened_at: float = 0.0


class PendingLogin(msgspec.Struct, frozen=True):
    """A right password waiting for its second factor."""

    user_id: uuid.UUID
    tenant_id: uuid.UUID
    email: str
    credential: str
    # The tenant requires SSO; this owner is signing in with a password anyway.
    break_glass: bool = False


def user_principal(
    user: User, *, must_enrol_two_factor: bool = False, signed_in_at: float | None = None
) -> Principal:
    """The principal a signed-in user acts as."""
    role: Role = user.role  # type: ignore[assignment]  # the table's CHECK keeps it a Role
    return Principal(
        tenant_id=user.tenant_id,
        role=role,
        actor=user.email,
        user_id=user.id,
        must_enrol_two_factor=must_enrol_two_factor,
        signed_in_at=signed_in_at,
    )


def credential_fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()


def _session_key(token: str) -> str:
    return f"{KEY_PREFIX}session:{hashlib.sha256(token.encode()).hexdigest()}"


async def open_session(context: ApiContext, session: Session) -> str:
    """A new session token (shown once to the client)."""
    token = secrets.token_urlsafe(_SESSION_TOKEN_BYTES)
    await context.redis.set(
        _session_key(token), msgspec.json.encode(session), ex=context.settings.session_ttl_s
    )
    return token


async def close_session(context: ApiContext, token: str) -> None:
    await context.redis.delete(_session_key(token))


def _pending_key(token: str) -> str:
    return f"{KEY_PREFIX}pending-login:{hashlib.sha256(token.encode()).hexdigest()}"


async def open_pending_login(context: ApiContext, pending: PendingLogin) -> str:
    """A short-lived token that stands for the password step, shown once to the client."""
    token = secrets.token_urlsafe(_SESSION_TOKEN_BYTES)
    await context.redis.set(
        _pending_key(token), msgspec.json.encode(pending), ex=PENDING_LOGIN_TTL_S
    )
    return token


async def find_pending_login(context: ApiContext, token: str) -> PendingLogin | None:
    raw = await context.redis.get(_pending_key(token))
    return None if raw is None else msgspec.json.decode(raw, type=PendingLogin)


async def spend_pending_login(context: ApiContext, token: str) -> bool:
    """Use the token up; False when another request already did."""
    return bool(await context.redis.delete(_pending_key(token)))


def bearer_token(request: Request[Any, Any, Any]) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _unauthorized(reason: str) -> ApiError:
    return ApiError(401, reason, headers={"WWW-Authenticate": "Bearer"})


async def _from_api_key(context: ApiContext, key: str) -> Principal:
    prefix = api_key_prefix(key)
    if prefix is None:
        raise _unauthorized("malformed API key")
    row = await ApiKeyRepository(context.pool).find_by_prefix(prefix)
    if row is None or not api_key_matches(key, row.key_hash):
        raise _unauthorized("unknown API key")
    if row.revoked_at is not None:
        raise _unauthorized("API key revoked")
    limiter = RateLimiter(context.redis)
    for window_s, limit, label in ((_MINUTE_S, row.rpm, "rpm"), (_DAY_S, row.rpd, "rpd")):
        result = await limiter.hit(f"apikey:{row.id}:{label}", limit, window_s)
        if not result.allowed:
            raise ApiError(
                429,
                f"API key rate limit exceeded ({limit} requests per {label[2:]})",
                headers={"Retry-After": str(result.retry_after_s)},
            )
    last_used = row.last_used_at.timestamp() if row.last_used_at else 0.0
    if time.time() - last_used > _TOUCH_INTERVAL_S:
        await ApiKeyRepository(context.pool).touch(row.tenant_id, row.id)
    role: Role = row.role  # type: ignore[assignment]  # the table's CHECK keeps it a Role
    return Principal(
        tenant_id=row.tenant_id, role=role, actor=f"api-key:{row.prefix}", api_key_id=row.id
    )


async def _from_session(context: ApiContext, token: str) -> Principal:
    raw = await context.redis.get(_session_key(token))
    if raw is None:
        raise _unauthorized("session expired or unknown")
    session = msgspec.json.decode(raw, type=Session)
    # The user row decides: a deleted user, a changed role or password takes effect at once.
    user = await UserRepository(context.pool).get(session.tenant_id, session.user_id)
    if user is None or credential_fingerprint(user.password_hash) != session.credential:
        await context.redis.delete(_session_key(token))
        raise _unauthorized("session ended")
    return user_principal(
        user,
        must_enrol_two_factor=await must_enrol_two_factor(context, user),
        signed_in_at=session.opened_at,
    )


async def second_factors(context: ApiContext, user: User) -> list[str]:
    """The second factors the user has: "totp", "passkey"."""
    factors = [] if user.totp_enabled_at is None else ["totp"]
    if await PasskeyRepository(context.pool).count(user.tenant_id, user.id):
        factors.append("passkey")
    return factors


async def must_enrol_two_factor(context: ApiContext, user: User) -> bool:
    """The tenant requires a second factor of the user's role, and they have none yet."""
    if user.role not in WRITE_ROLES or user.totp_enabled_at is not None:
        return False
    tenant = await TenantsRepository(context.pool).get(user.tenant_id)
    if tenant is None or not tenant.require_two_factor:
        return False
    return not await second_factors(context, user)


async def authenticate_enrolling(request: Request[Any, Any, Any], state: State) -> Principal:
    """Dependency for two-factor enrolment, who am I and sign out: the caller, or 401, even
    when the tenant requires a second factor they have not set up yet."""
    context: ApiContext = state.context
    token = bearer_token(request)
    if token is None:
        raise _unauthorized("missing bearer token")
    if token.startswith("vk_"):
        return await _from_api_key(context, token)
    return await _from_session(context, token)


async def authenticate(request: Request[Any, Any, Any], state: State) -> Principal:
    """Dependency: the caller, or 401 (429 when an API key is over its limit; 403 when the
    tenant requires two-factor for their role and they have not enrolled)."""
    principal = await authenticate_enrolling(request, state)
    if principal.must_enrol_two_factor:
        raise ApiError(
            403, "this tenant requires two-factor authentication for your role: enrol first"
        )
    return principal


async def authenticate_writer(request: Request[Any, Any, Any], state: State) -> Principal:
    """Dependency for mutations: the caller must be an owner or an admin."""
    principal = await authenticate(request, state)
    if not principal.can_write:
        raise ApiError(403, f"role {principal.role!r} is read-only")
    return principal
