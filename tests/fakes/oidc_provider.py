"""An OpenID Connect provider on 127.0.0.1, built with Authlib's pieces (joserfc signs its ID
tokens), speaking the authorization code flow as
OpenID Connect Core 1.0 and RFC 7636 define it: a discovery document, an authorization
endpoint that redirects back with a code and the state (and `iss`, RFC 9207), a token endpoint
that takes client_secret_basic, spends the code once and checks the verifier, and the JWKS.

Who signs in, and how the ID token is spoiled (another audience, already expired), is set by
the test on `user` and `spoil`.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.fakes.cloud_common import LocalServer

CLIENT_ID = "vocals-test-client"
CLIENT_SECRET = "oidc client s3cret"
_KEY_ID = "test-key-1"
_TOKEN_TTL_S = 300


@dataclass
class OidcUser:
    email: str
    email_verified: bool = True
    subject: str = field(default_factory=lambda: secrets.token_hex(8))
    # The claim that says the e-mail is verified: Microsoft Entra sends `xms_edov` (an optional
    # claim, "email domain owner verified") and no `email_verified`.
    verified_claim: str = "email_verified"


@dataclass
class Spoil:
    """What the provider gets wrong in the next ID tokens."""

    audience: str | None = None
    expired: bool = False


@dataclass
class _Grant:
    redirect_uri: str
    nonce: str
    challenge: str


def _s256(verifier: str) -> str:
    """RFC 7636's S256 code challenge."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class FakeOidcProvider:
    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": _KEY_ID, "use": "sig"})
        self.user = OidcUser(email="someone@example.com")
        self.spoil = Spoil()
        self._grants: dict[str, _Grant] = {}
        app = web.Application()
        app.router.add_get("/.well-known/openid-configuration", self._discovery)
        app.router.add_get("/authorize", self._authorize)
        app.router.add_post("/token", self._token)
        app.router.add_get("/jwks", self._jwks)
        self._server = LocalServer(app)

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self._server.port}"

    async def start(self) -> None:
        await self._server.start()

    async def stop(self) -> None:
        await self._server.stop()

    async def _discovery(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            }
        )

    async def _authorize(self, request: web.Request) -> web.Response:
        query = request.query
        if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code":
            return web.json_response({"error": "unauthorized_client"}, status=400)
        if query.get("code_challenge_method") != "S256" or "code_challenge" not in query:
            return web.json_response({"error": "invalid_request"}, status=400)
        if "openid" not in query.get("scope", "").split():
            return web.json_response({"error": "invalid_scope"}, status=400)
        code = secrets.token_urlsafe(16)
        self._grants[code] = _Grant(
            redirect_uri=query["redirect_uri"],
            nonce=query.get("nonce", ""),
            challenge=query["code_challenge"],
        )
        back = {"code": code, "state": query.get("state", ""), "iss": self.issuer}
        raise web.HTTPFound(f"{query['redirect_uri']}?{urlencode(back)}")

    def _client_authenticated(self, request: web.Request) -> bool:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        client, _, secret = base64.b64decode(encoded).decode().partition(":")
        return (client, secret) == (CLIENT_ID, CLIENT_SECRET)

    async def _token(self, request: web.Request) -> web.Response:
        if not self._client_authenticated(request):
            return web.json_response({"error": "invalid_client"}, status=401)
        form = await request.post()
        grant = self._grants.pop(str(form.get("code", "")), None)
        if (
            form.get("grant_type") != "authorization_code"
            or grant is None
            or form.get("redirect_uri") != grant.redirect_uri
            or _s256(str(form.get("code_verifier", ""))) != grant.challenge
        ):
            return web.json_response({"error": "invalid_grant"}, status=400)
        return web.json_response(
            {
                "access_token": secrets.token_urlsafe(16),
                "token_type": "Bearer",
                "expires_in": _TOKEN_TTL_S,
                "id_token": self._id_token(grant.nonce),
            }
        )

    def _id_token(self, nonce: str) -> str:
        now = int(time.time())
        issued = now - 2 * _TOKEN_TTL_S if self.spoil.expired else now
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": self.user.subject,
            "aud": self.spoil.audience or CLIENT_ID,
            "iat": issued,
            "exp": issued + _TOKEN_TTL_S,
            "nonce": nonce,
            "email": self.user.email,
            self.user.verified_claim: self.user.email_verified,
        }
        return jwt.encode({"alg": "RS256", "kid": _KEY_ID}, claims, self.key)

    async def _jwks(self, request: web.Request) -> web.Response:
        return web.json_response({"keys": [self.key.as_dict(private=False)]})
