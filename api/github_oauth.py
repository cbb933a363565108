"""Signing in with GitHub, which speaks OAuth 2 but not OpenID Connect: no discovery, no ID
token. The authorization code (with PKCE) is exchanged for an access token over the
back channel with the client secret (Authlib's client), and the user's verified primary e-mail
is read from GitHub's REST API with it. State, PKCE and the browser cookie (api/routes/sso.py)
guard the round trip as they do for OpenID Connect; there is no nonce to check.

`Provider.issuer` is GitHub's web address: https://github.com, or a GitHub Enterprise Server's,
whose REST API is under /api/v3.
"""

from __future__ import annotations

import httpx
import msgspec
from authlib.integrations.base_client.errors import OAuthError

from api.oidc import Identity, OidcError, Provider, checked, oauth_client

GITHUB_COM = "https://github.com"
_GITHUB_COM_API = "https://api.github.com"
# The e-mail addresses (with their verified flag) and the user id; nothing else.
SCOPE = "read:user user:email"
_API_VERSION = "2022-11-28"


class _User(msgspec.Struct):
    id: int


class _Email(msgspec.Struct):
    email: str
    primary: bool
    verified: bool


def _api_base(issuer: str) -> str:
    base = issuer.rstrip("/")
    return _GITHUB_COM_API if base == GITHUB_COM else f"{base}/api/v3"


async def authorization_url(provider: Provider, state: str, verifier: str) -> str:
    """Where to send the browser to sign in at GitHub."""
    url = await checked(f"{provider.issuer.rstrip('/')}/login/oauth/authorize", provider)
    async with oauth_client(provider, SCOPE) as client:
        location, _ = client.create_authorization_url(url, state=state, code_verifier=verifier)
    return str(location)


async def identity(provider: Provider, code: str, verifier: str) -> Identity:
    """Exchange the code, then ask GitHub's API who signed in and their primary e-mail."""
    token_url = await checked(f"{provider.issuer.rstrip('/')}/login/oauth/access_token", provider)
    api = await checked(_api_base(provider.issuer), provider)
    try:
        async with oauth_client(provider, SCOPE, auth_method="client_secret_post") as client:
            await client.fetch_token(token_url, code=code, code_verifier=verifier)
            headers = {
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": _API_VERSION,
            }
            user_response = await client.get(f"{api}/user", headers=headers)
            emails_response = await client.get(f"{api}/user/emails", headers=headers)
    except (OAuthError, httpx.HTTPError) as exc:
        raise OidcError("GitHub refused the sign-in code") from exc
    if user_response.status_code != 200 or emails_response.status_code != 200:
        raise OidcError("GitHub did not say who signed in (the app needs the user:email scope)")
    try:
        user = msgspec.json.decode(user_response.content, type=_User)
        emails = msgspec.json.decode(emails_response.content, type=list[_Email])
    except msgspec.DecodeError as exc:
        raise OidcError("GitHub's answer about the user is not valid") from exc
    primary = next((e for e in emails if e.primary), None)
    return Identity(
        subject=str(user.id),
        email=None if primary is None else primary.email,
        email_verified=primary is not None and primary.verified,
    )
