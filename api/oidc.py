"""OpenID Connect, authorization code flow with PKCE: the provider's discovery document, the
authorization URL and the code exchange (Authlib's OAuth 2 client), and the ID token's checks
(joserfc, Authlib's JOSE library): signature against the provider's published keys, issuer,
audience, expiry and nonce. Every URL is checked against the SSRF guard before it is fetched.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import httpx
import msgspec
from authlib.deprecate import AuthlibDeprecationWarning
from authlib.integrations.base_client.errors import OAuthError
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet

from api.provider_urls import check_destination
from api.webhooks.ssrf import BlockedDestination

# Authlib 1.9 warns at import that it will move to the `httpx2` package; until it does, the
# `httpx` client is the supported one, and the warning would open every server's log.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client

SCOPE = "openid email profile"
# An identity provider slower than this is taken for down.
HTTP_TIMEOUT_S = 10.0
# Clocks of the provider and this server may disagree this much.
_CLOCK_LEEWAY_S = 60
_ALGORITHMS = ["RS256", "ES256", "PS256"]


class OidcError(Exception):
    """A sign-in the provider's answers do not allow; the message says why, for the user."""


class _DiscoveryDocument(msgspec.Struct):
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


@dataclass(frozen=True, slots=True)
class Provider:
    """What signing in needs of one provider."""

    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str
    allow_private: bool


@dataclass(frozen=True, slots=True)
class Identity:
    subject: str
    email: str | None
    email_verified: bool


async def _get(url: str, provider: Provider) -> bytes:
    try:
        await check_destination(url, allow_private=provider.allow_private)
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S) as http:
            response = await http.get(url)
            response.raise_for_status()
    except BlockedDestination as exc:
        raise OidcError(f"the identity provider's address is not allowed: {exc}") from exc
    except httpx.HTTPError as exc:
        raise OidcError(f"the identity provider did not answer ({type(exc).__name__})") from exc
    return response.content


async def discover(provider: Provider) -> _DiscoveryDocument:
    url = provider.issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        document = msgspec.json.decode(await _get(url, provider), type=_DiscoveryDocument)
    except msgspec.DecodeError as exc:
        raise OidcError("the identity provider's discovery document is not valid") from exc
    if document.issuer != provider.issuer:
        raise OidcError("the identity provider's discovery document names another issuer")
    return document


def oauth_client(
    provider: Provider, scope: str, auth_method: str = "client_secret_basic"
) -> AsyncOAuth2Client:
    """Authlib's OAuth 2 client for the authorization code flow with PKCE (S256)."""
    return AsyncOAuth2Client(
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        redirect_uri=provider.redirect_uri,
        scope=scope,
        code_challenge_method="S256",
        token_endpoint_auth_method=auth_method,
        timeout=HTTP_TIMEOUT_S,
    )


async def authorization_url(provider: Provider, state: str, nonce: str, verifier: str) -> str:
    """Where to send the browser to sign in at the provider."""
    document = await discover(provider)
    await checked(document.authorization_endpoint, provider)
    async with oauth_client(provider, SCOPE) as client:
        url, _ = client.create_authorization_url(
            document.authorization_endpoint, state=state, nonce=nonce, code_verifier=verifier
        )
    return str(url)


async def checked(url: str, provider: Provider) -> str:
    """`url`, once the SSRF guard allows it."""
    try:
        await check_destination(url, allow_private=provider.allow_private)
    except BlockedDestination as exc:
        raise OidcError(f"the identity provider's address is not allowed: {exc}") from exc
    return url


async def identity(provider: Provider, code: str, verifier: str, nonce: str) -> Identity:
    """Exchange the code (with the PKCE verifier) and check the ID token it brings."""
    document = await discover(provider)
    await checked(document.token_endpoint, provider)
    try:
        async with oauth_client(provider, SCOPE) as client:
            token = await client.fetch_token(
                document.token_endpoint,
                grant_type="authorization_code",
                code=code,
                code_verifier=verifier,
            )
    except (OAuthError, httpx.HTTPError) as exc:
        raise OidcError("the identity provider refused the sign-in code") from exc
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise OidcError("the identity provider sent no ID token")
    keys = KeySet.import_key_set(msgspec.json.decode(await _get(document.jwks_uri, provider)))
    claims = _verified(id_token, keys, provider, nonce)
    email = claims.get("email")
    return Identity(
        subject=str(claims["sub"]),
        email=email if isinstance(email, str) else None,
        # Microsoft Entra sends no email_verified; its optional claim xms_edov says the
        # e-mail's domain is verified by the directory that owns it.
        email_verified=claims.get("email_verified") is True or claims.get("xms_edov") is True,
    )


def _verified(id_token: str, keys: KeySet, provider: Provider, nonce: str) -> dict[str, object]:
    registry = jwt.JWTClaimsRegistry(
        leeway=_CLOCK_LEEWAY_S,
        iss={"essential": True, "value": provider.issuer},
        aud={"essential": True, "value": provider.client_id},
        nonce={"essential": True, "value": nonce},
        exp={"essential": True},
        sub={"essential": True},
    )
    try:
        token = jwt.decode(id_token, keys, algorithms=_ALGORITHMS)
        registry.validate(token.claims)
    except ExpiredTokenError as exc:
        raise OidcError("the ID token has expired") from exc
    except (InvalidClaimError, MissingClaimError) as exc:
        raise OidcError(f"the ID token was refused: {exc.description}") from exc
    except BadSignatureError as exc:
        raise OidcError("the ID token's signature does not verify") from exc
    except (JoseError, ValueError) as exc:
        raise OidcError("the ID token is not valid") from exc
    return dict(token.claims)
