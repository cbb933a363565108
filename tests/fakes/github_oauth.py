"""GitHub's OAuth 2 web application flow on 127.0.0.1, shaped as a GitHub Enterprise Server
(web address at the root, REST API under /api/v3), as GitHub documents it ("Authorizing OAuth
apps", "REST API endpoints for users" and "for emails"): the authorize endpoint redirects back
with the code and state, the token endpoint takes client_id/client_secret in the form, checks
the PKCE verifier and spends the code (errors come as 200 with an `error` field, as GitHub
sends them), and `/user` and `/user/emails` answer for the access token.

Who signs in is set by the test on `emails` (the first is primary).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlencode

from aiohttp import web

from tests.fakes.cloud_common import LocalServer

CLIENT_ID = "Iv1.vocalstest"
CLIENT_SECRET = "github client s3cret"


@dataclass
class GithubEmail:
    email: str
    verified: bool = True


@dataclass
class _Grant:
    redirect_uri: str
    challenge: str


@dataclass
class FakeGithub:
    emails: list[GithubEmail] = field(default_factory=list)
    user_id: int = field(default_factory=lambda: secrets.randbelow(10**8))
    _grants: dict[str, _Grant] = field(default_factory=dict)
    _tokens: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        app = web.Application()
        app.router.add_get("/login/oauth/authorize", self._authorize)
        app.router.add_post("/login/oauth/access_token", self._access_token)
        app.router.add_get("/api/v3/user", self._user)
        app.router.add_get("/api/v3/user/emails", self._emails)
        self._server = LocalServer(app)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}"

    async def start(self) -> None:
        await self._server.start()

    async def stop(self) -> None:
        await self._server.stop()

    async def _authorize(self, request: web.Request) -> web.Response:
        query = request.query
        if query.get("client_id") != CLIENT_ID:
            return web.Response(status=404, text="Not Found")
        if query.get("code_challenge_method") != "S256" or "code_challenge" not in query:
            return web.json_response({"error": "invalid_request"}, status=400)
        code = secrets.token_hex(10)
        self._grants[code] = _Grant(query["redirect_uri"], query["code_challenge"])
        back = {"code": code, "state": query.get("state", "")}
        raise web.HTTPFound(f"{query['redirect_uri']}?{urlencode(back)}")

    async def _access_token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
            return web.json_response({"error": "incorrect_client_credentials"})
        grant = self._grants.pop(str(form.get("code", "")), None)
        verifier = str(form.get("code_verifier", ""))
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if (
            grant is None
            or form.get("redirect_uri") != grant.redirect_uri
            or challenge.rstrip(b"=").decode() != grant.challenge
        ):
            return web.json_response({"error": "bad_verification_code"})
        token = f"gho_{secrets.token_hex(18)}"
        self._tokens.add(token)
        if "application/json" not in request.headers.get("Accept", ""):
            return web.Response(text=urlencode({"access_token": token, "token_type": "bearer"}))
        return web.json_response(
            {"access_token": token, "scope": "read:user,user:email", "token_type": "bearer"}
        )

    def _authorized(self, request: web.Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() in ("bearer", "token") and token in self._tokens

    async def _user(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"message": "Requires authentication"}, status=401)
        return web.json_response({"login": "octocat", "id": self.user_id, "type": "User"})

    async def _emails(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"message": "Requires authentication"}, status=401)
        return web.json_response(
            [
                {"email": e.email, "verified": e.verified, "primary": i == 0, "visibility": None}
                for i, e in enumerate(self.emails)
            ]
        )
