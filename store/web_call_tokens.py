"""Web-call tokens: what lets one browser start one call with one agent, for a short while.

A token is random; Redis keeps only its hash, with the grant (tenant, agent, variables, the
one origin allowed to use it, an optional draft of the agent) and an expiry equal to its
lifetime. Using it is `GETDEL`, so it starts exactly one call even when two sockets race.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from typing import Final

import msgspec
from redis.asyncio import Redis

from store.models import Agent
from store.redis import KEY_PREFIX

# 32 random bytes: not guessable within a token's lifetime at any request rate.
TOKEN_BYTES: Final = 32


class WebCallGrant(msgspec.Struct, kw_only=True, frozen=True):
    """What a token allows."""

    tenant_id: uuid.UUID
    agent_id: uuid.UUID
    origin: str
    expires_at: float
    variables: dict[str, str] = msgspec.field(default_factory=dict)
    # The agent as an admin is editing it (unsaved changes), for this call only.
    draft: Agent | None = None
    actor: str = ""


class TokenRefused(Exception):
    """The token is unknown, used, expired, for another agent or from another origin."""


def _key(token: str) -> str:
    digest = hashlib.sha256(token.encode()).hexdigest()
    return f"{KEY_PREFIX}webcall:token:{digest}"


class WebCallTokens:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._decoder = msgspec.json.Decoder(WebCallGrant)

    async def issue(self, grant: WebCallGrant) -> str:
        token = secrets.token_urlsafe(TOKEN_BYTES)
        ttl_ms = max(1, int((grant.expires_at - time.time()) * 1000))
        await self._redis.set(_key(token), msgspec.json.encode(grant), px=ttl_ms)
        return token

    async def redeem(self, token: str, *, agent_id: uuid.UUID, origin: str | None) -> WebCallGrant:
        """The grant, spent; or `TokenRefused` with why. A token offered from the wrong origin
        or for the wrong agent is not spent (its rightful page may still use it)."""
        key = _key(token)
        raw = await self._redis.get(key)
        if raw is None:
            raise TokenRefused("unknown, used or expired token")
        grant = self._decoder.decode(raw)
        if grant.agent_id != agent_id:
            raise TokenRefused("token issued for another agent")
        if origin != grant.origin:
            raise TokenRefused(f"origin {origin!r} is not the token's allowed origin")
        if grant.expires_at < time.time():
            raise TokenRefused("token expired")
        if await self._redis.getdel(key) is None:
            raise TokenRefused("unknown, used or expired token")
        return grant
