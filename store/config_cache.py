"""A 60 s Redis cache for configuration read on every call (agents, credentials).

Writers invalidate on update, so the TTL only bounds staleness after a missed invalidation.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import msgspec
from redis.asyncio import Redis

from store.redis import KEY_PREFIX

CONFIG_CACHE_TTL_S = 60
T = TypeVar("T")


def _key(tenant_id: uuid.UUID | None, name: str) -> str:
    return f"{KEY_PREFIX}cache:{tenant_id or 'global'}:{name}"


def agent_cache_name(agent_id: uuid.UUID) -> str:
    """The entry holding a `store.models.Agent` (tenant-scoped)."""
    return f"agent:{agent_id}"


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
    ) -> T | None:
        """The cached value, or `load()`'s result cached for 60 s (misses are not cached)."""
        raw = await self._redis.get(_key(tenant_id, name))
        if raw is not None:
            return msgspec.json.decode(raw, type=kind)
        value = await load()
        if value is not None:
            await self._redis.set(
                _key(tenant_id, name), msgspec.json.encode(value), ex=CONFIG_CACHE_TTL_S
            )
        return value

    async def invalidate(self, tenant_id: uuid.UUID | None, *names: str) -> None:
        if names:
            await self._redis.delete(*(_key(tenant_id, n) for n in names))
