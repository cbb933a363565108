"""A 60 s Redis cache for configuration read on every call (agents, credentials).

Writers invalidate on update, so the TTL only bounds staleness after a missed invalidation.
Every loaded value also leaves a long-lived fallback copy, which readers that would rather use
stale configuration than fail (a call coming in) get while PostgreSQL is unreachable.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import msgspec
import structlog
from redis.asyncio import Redis

from store.redis import KEY_PREFIX

log = structlog.get_logger(__name__)

CONFIG_CACHE_TTL_S = 60
# Longer than any PostgreSQL outage should last; an entry nobody reads that long goes.
FALLBACK_TTL_S = 7 * 86400
# What a failed load raises when PostgreSQL is unreachable or refuses to serve (starting up,
# shutting down, too many connections), as opposed to a bug.
STORE_UNAVAILABLE = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
T = TypeVar("T")


def _key(tenant_id: uuid.UUID | None, name: str) -> str:
    return f"{KEY_PREFIX}cache:{tenant_id or 'global'}:{name}"


def _fallback_key(tenant_id: uuid.UUID | None, name: str) -> str:
    return f"{_key(tenant_id, name)}:fallback"


def agent_cache_name(agent_id: uuid.UUID) -> str:
    """The entry holding a `store.models.Agent` (tenant-scoped)."""
    return f"agent:{agent_id}"


def credential_cache_name(credential_id: uuid.UUID) -> str:
    """The entry holding a `store.models.ProviderCredential` as stored (its key encrypted)."""
    return f"credential:{credential_id}"


def did_cache_name(did: str) -> str:
    """The entry (tenant None) holding the `InboundRoute` of a dialled number."""
    return f"did:{did}"


class ConfigCache:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def get_or_load(
        self,
        tenant_id: uuid.UUID | None,
        name: str,
        kind: type[T],
        load: Callable[[], Awaitable[T | None]],
        *,
        stale_ok: bool = False,
    ) -> T | None:
        """The cached value, or `load()`'s result cached for 60 s (misses are not cached).
        With `stale_ok`, a load that fails for want of PostgreSQL returns the fallback copy
        when there is one (and raises as before when there is none)."""
        raw = await self._redis.get(_key(tenant_id, name))
        if raw is not None:
            return msgspec.json.decode(raw, type=kind)
        try:
            value = await load()
        except STORE_UNAVAILABLE as exc:
            stale = await self._redis.get(_fallback_key(tenant_id, name)) if stale_ok else None
            if stale is None:
                raise
            log.warning(
                "PostgreSQL unavailable, using the fallback copy", entry=name, error=repr(exc)
            )
            return msgspec.json.decode(stale, type=kind)
        if value is not None:
            encoded = msgspec.json.encode(value)
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.set(_key(tenant_id, name), encoded, ex=CONFIG_CACHE_TTL_S)
                pipe.set(_fallback_key(tenant_id, name), encoded, ex=FALLBACK_TTL_S)
                await pipe.execute()
        return value

    async def invalidate(self, tenant_id: uuid.UUID | None, *names: str) -> None:
        """Forget entries (and their fallback copies: a deleted agent is never served)."""
        if names:
            await self._redis.delete(
                *(_key(tenant_id, n) for n in names),
                *(_fallback_key(tenant_id, n) for n in names),
            )
