"""Signing in with a tenant's SSO provider (OpenID Connect, or GitHub's OAuth 2): the
browser is sent to the provider with a fresh state, nonce and PKCE verifier, and comes back to
the callback, where the state is spent (a replayed one is refused), the code exchanged, the ID
token checked (for GitHub: its API asked), and the verified e-mail matched to a user of the
provider's tenant or, for an allowed domain, given one.

Success sends the browser to `{public_url}/sso#token=…`: in the fragment, so the session token
reaches neither a server log nor a Referer header.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from typing import Annotated, Any

import msgspec
from litestar import Request, Router, get
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect
from litestar.status_codes import HTTP_302_FOUND

from api import github_oauth
from api.auth import Principal
from api.common import audit
from api.context import ApiContext
from api.errors import ApiError, invalid, not_found, problems
from api.oidc import OidcError, Provider, authorization_url, identity
from api.routes.auth import signed_in
from api.sign_in_limits import count_attempt, count_lookup
from store.models import SsoProvider, User
from store.redis import KEY_PREFIX
from store.repositories.base import Conflict
from store.repositories.config import UserRepository
from store.repositories.sso_providers import SsoProviderRepository

# Time to sign in at the provider (a password, perhaps a second factor there).
_STATE_TTL_S = 10 * 60
_RANDOM_BYTES = 32
# Users created by a provider have no password until they reset one; nothing verifies this.
_NO_PASSWORD = "sso-only"
_CALLBACK = "/api/v1/auth/sso/callback"
_BROWSER_COOKIE = "vocals_sso"
GITHUB = "github"


class _PendingSso(msgspec.Struct, frozen=True):
    provider_id: uuid.UUID
    nonce: str
    verifier: str
    # SHA-256 of the cookie given to the browser that started: a callback link sent to someone
    # else's browser (to sign them in as the sender) has no such cookie and is refused.
    browser: str


class SsoChoice(msgspec.Struct, kw_only=True):
    """A button on the sign-in page."""

    name: str
    sign_in_path: str


class SsoChoices(msgspec.Struct, kw_only=True):
    items: list[SsoChoice]


def sign_in_path(provider_id: uuid.UUID) -> str:
    """Where the browser starts signing in with a provider."""
    return f"/api/v1/auth/sso/{provider_id}/start"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _state_key(state: str) -> str:
    return f"{KEY_PREFIX}sso-state:{_digest(state)}"


def _provider(context: ApiContext, row: SsoProvider) -> Provider:
    secret = SsoProviderRepository(context.pool, context.box).reveal(row, "client_secret")
    assert secret is not None
    return Provider(
        issuer=row.issuer,
        client_id=row.client_id,
        client_secret=secret,
        redirect_uri=f"{context.settings.public_url}{_CALLBACK}",
        allow_private=context.settings.allow_private_urls,
    )


@get(
    "/providers",
    operation_id="findSsoProviders",
    summary="The SSO providers to offer on the sign-in page",
    description="By the tenant's name, or by an e-mail address's domain (the providers that "
    "let that domain sign up). The answer is the same empty list for a tenant or domain that "
    "does not exist as for one with no provider, and it never depends on whether the e-mail "
    "has an account.",
    responses=problems(400, 422, 429),
)
async def find_providers(
    request: Request[Any, Any, Any],
    context: NamedDependency[ApiContext],
    tenant: Annotated[str | None, QueryParameter(max_length=200)] = None,
    email: Annotated[str | None, QueryParameter(max_length=254)] = None,
) -> SsoChoices:
    if (tenant is None) == (email is None):
        raise invalid("tenant", "give either a tenant or an e-mail address")
    await count_lookup(context, request)
    repository = SsoProviderRepository(context.pool, context.box)
    if email is not None:
        local, at, domain = email.strip().rpartition("@")
        if not at or not local or not domain:
            raise invalid("email", "not an e-mail address")
        rows = await repository.for_domain(domain.lower())
    else:
        rows = await repository.for_tenant_name(str(tenant))
    return SsoChoices(items=[SsoChoice(name=r.name, sign_in_path=sign_in_path(r.id)) for r in rows])


@get(
    "/{provider_id:uuid}/start",
    operation_id="startSsoSignIn",
    summary="Send the browser to the identity provider to sign in",
    status_code=HTTP_302_FOUND,
    responses=problems(401, 404, 429),
)
async def start(
    request: Request[Any, Any, Any],
    context: NamedDependency[ApiContext],
    provider_id: FromPath[uuid.UUID],
) -> Redirect:
    await count_attempt(context, request, None)
    row = await SsoProviderRepository(context.pool, context.box).find(provider_id)
    if row is None:
        raise not_found("SSO provider")
    state = secrets.token_urlsafe(_RANDOM_BYTES)
    browser = secrets.token_urlsafe(_RANDOM_BYTES)
    pending = _PendingSso(
        provider_id=row.id,
        nonce=secrets.token_urlsafe(_RANDOM_BYTES),
        verifier=secrets.token_urlsafe(_RANDOM_BYTES),
        browser=_digest(browser),
    )
    provider = _provider(context, row)
    try:
        if row.protocol == GITHUB:
            url = await github_oauth.authorization_url(provider, state, pending.verifier)
        else:
            url = await authorization_url(provider, state, pending.nonce, pending.verifier)
    except OidcError as exc:
        raise ApiError(401, str(exc)) from exc
    await context.redis.set(_state_key(state), msgspec.json.encode(pending), ex=_STATE_TTL_S)
    cookie = Cookie(
        key=_BROWSER_COOKIE,
        value=browser,
        path="/api/v1/auth/sso",
        max_age=_STATE_TTL_S,
        httponly=True,
        # Lax: sent on the provider's top-level redirect back, not on other sites' requests.
        samesite="lax",
        secure=context.settings.public_url.startswith("https:"),
    )
    return Redirect(path=url, status_code=HTTP_302_FOUND, cookies=[cookie])


async def _user_for(context: ApiContext, row: SsoProvider, email: str) -> User:
    """The provider's tenant's user with this e-mail, or a new one for an allowed domain."""
    users = UserRepository(context.pool)
    user = await users.find_for_login(email)
    if user is not None:
        if user.tenant_id != row.tenant_id:
            raise ApiError(403, "this e-mail's account belongs to another tenant")
        return user
    domain = email.rpartition("@")[2].lower()
    if domain not in row.allowed_domains:
        raise ApiError(
            403, f"no account for this e-mail, and {domain} may not sign up with this provider"
        )
    try:
        user = await users.create(
            row.tenant_id,
            {"email": email, "password_hash": _NO_PASSWORD, "role": row.default_role},
        )
    except Conflict:
        raise ApiError(409, "an account for this e-mail was created meanwhile") from None
    creator = Principal(
        tenant_id=row.tenant_id, role="viewer", actor=f"sso:{row.name}", user_id=None
    )
    await audit(
        context, creator, "create", "user", user.id, after={"email": email, "role": user.role}
    )
    return user


@get(
    "/callback",
    operation_id="finishSsoSignIn",
    summary="Where the identity provider sends the browser back",
    status_code=HTTP_302_FOUND,
    responses=problems(400, 401, 403, 409, 429),
)
async def callback(
    request: Request[Any, Any, Any],
    context: NamedDependency[ApiContext],
    # `state` and `scope` are names Litestar keeps for itself.
    oauth_state: Annotated[str | None, QueryParameter(name="state")] = None,
    code: FromQuery[str | None] = None,
    error: FromQuery[str | None] = None,
    error_description: FromQuery[str | None] = None,
    iss: FromQuery[str | None] = None,
    # Sent by some providers, unused: declared, or the query guard would refuse them.
    session_state: FromQuery[str | None] = None,
    oauth_scope: Annotated[str | None, QueryParameter(name="scope")] = None,
) -> Redirect:
    await count_attempt(context, request, None)
    raw = None if oauth_state is None else await context.redis.getdel(_state_key(oauth_state))
    if raw is None:
        raise ApiError(401, "sign-in state unknown, expired or already used: start again")
    pending = msgspec.json.decode(raw, type=_PendingSso)
    cookie = request.cookies.get(_BROWSER_COOKIE, "")
    if not hmac.compare_digest(_digest(cookie), pending.browser):
        raise ApiError(401, "this sign-in was started in another browser: start again")
    row = await SsoProviderRepository(context.pool, context.box).find(pending.provider_id)
    if row is None:
        raise ApiError(401, "the SSO provider was removed: start again")
    if error is not None:
        raise ApiError(401, f"the identity provider refused: {error_description or error}")
    if iss is not None and iss != row.issuer:
        raise ApiError(401, "the answer comes from another identity provider")
    if code is None:
        raise ApiError(400, "the identity provider sent no code")
    provider = _provider(context, row)
    try:
        if row.protocol == GITHUB:
            who = await github_oauth.identity(provider, code, pending.verifier)
        else:
            who = await identity(provider, code, pending.verifier, pending.nonce)
    except OidcError as exc:
        raise ApiError(401, str(exc)) from exc
    if who.email is None or not who.email_verified:
        raise ApiError(403, "the identity provider has not verified this e-mail")
    user = await _user_for(context, row, who.email)
    session = await signed_in(context, user, f"sso:{row.name}")
    target = f"{context.settings.public_url}/sso#token={session.token}"
    return Redirect(path=f"{target}&expires_in={session.expires_in}", status_code=HTTP_302_FOUND)


router = Router(path="/auth/sso", route_handlers=[find_providers, start, callback], tags=["auth"])
