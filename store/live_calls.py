"""Live call state in Redis: metadata and history under the call id, expiring on their own."""

from __future__ import annotations

import time
import uuid
from typing import Any, cast

import msgspec
from redis.asyncio import Redis

from store.process_leases import process_calls_key
from store.redis import KEY_PREFIX

# Longer than any call may last (agents cap calls at 30 minutes by default), so a live call never
# loses its state. A dead process's calls are adopted long before (ari_app.adoption); this only
# bounds what is left when no process survives to adopt them.
LIVE_STATE_TTL_S = 4 * 3600


def _key(call_id: uuid.UUID) -> str:
    return f"{KEY_PREFIX}call:{call_id}"


def _history_key(call_id: uuid.UUID) -> str:
    return f"{KEY_PREFIX}call:{call_id}:history"


def _tenant_live_key(tenant_id: uuid.UUID) -> str:
    return f"{KEY_PREFIX}tenant:{tenant_id}:live"


def live_call_channel(call_id: uuid.UUID) -> str:
    """Pub/sub channel told of every change to a call's live state (the message is only a
    nudge; readers fetch the state itself), and of its end."""
    return f"{KEY_PREFIX}call:{call_id}:changed"


def _encode_fields(values: dict[str, Any]) -> dict[str, bytes]:
    return {k: msgspec.json.encode(v) for k, v in values.items()}


def _hash_mapping(fields: dict[str, bytes]) -> Any:
    # redis-py's stubs type hset's mapping with an invariant key union no dict can satisfy.
    return cast(Any, fields)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class LiveCallStore:
    """Per-call metadata (a hash), history (a list) and the set of a tenant's live calls.

    With an `owner` (the process id of `store.process_leases`) the calls it starts name that
    process and are listed under it, so a survivor can adopt them if the process dies."""

    def __init__(self, redis: Redis, *, owner: str | None = None) -> None:
        self._redis = redis
        self._owner = owner

    async def start(
        self, tenant_id: uuid.UUID, call_id: uuid.UUID, metadata: dict[str, Any]
    ) -> None:
        fields = _encode_fields(metadata)
        fields["tenant_id"] = msgspec.json.encode(str(tenant_id))
        if self._owner is not None:
            fields["owner"] = msgspec.json.encode(self._owner)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(_key(call_id), mapping=_hash_mapping(fields))
            pipe.expire(_key(call_id), LIVE_STATE_TTL_S)
            pipe.zadd(_tenant_live_key(tenant_id), {str(call_id): time.time()})
            pipe.expire(_tenant_live_key(tenant_id), LIVE_STATE_TTL_S)
            if self._owner is not None:
                pipe.sadd(process_calls_key(self._owner), str(call_id))
            pipe.publish(live_call_channel(call_id), b"started")
            await pipe.execute()

    async def take(self, call_id: uuid.UUID, owner: str) -> None:
        """`owner` holds the live call now (a Twilio stream, which any process may serve):
        listed under it, so a survivor adopts the call if that process dies."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(_key(call_id), "owner", msgspec.json.encode(owner))
            pipe.sadd(process_calls_key(owner), str(call_id))
            await pipe.execute()

    async def update(self, call_id: uuid.UUID, fields: dict[str, Any]) -> None:
        encoded = _encode_fields(fields)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(_key(call_id), mapping=_hash_mapping(encoded))
            pipe.expire(_key(call_id), LIVE_STATE_TTL_S)
            pipe.publish(live_call_channel(call_id), b"state")
            await pipe.execute()

    async def append_history(self, call_id: uuid.UUID, entry: dict[str, Any]) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpush(_history_key(call_id), msgspec.json.encode(entry))
            pipe.expire(_history_key(call_id), LIVE_STATE_TTL_S)
            pipe.publish(live_call_channel(call_id), b"history")
            await pipe.execute()

    async def get(self, call_id: uuid.UUID) -> dict[str, Any] | None:
        raw = await self._redis.hgetall(_key(call_id))
        if not raw:
            return None
        return {_text(k): msgspec.json.decode(v) for k, v in raw.items()}

    async def history(self, call_id: uuid.UUID) -> list[dict[str, Any]]:
        return [
            msgspec.json.decode(v) for v in await self._redis.lrange(_history_key(call_id), 0, -1)
        ]

    async def live_call_ids(self, tenant_id: uuid.UUID) -> list[uuid.UUID]:
        """Calls started within the state TTL and not ended or adopted."""
        key = _tenant_live_key(tenant_id)
        await self._redis.zremrangebyscore(key, 0, time.time() - LIVE_STATE_TTL_S)
        return [uuid.UUID(_text(m)) for m in await self._redis.zrange(key, 0, -1)]

    async def end(
        self, tenant_id: uuid.UUID, call_id: uuid.UUID, *, owner: str | None = None
    ) -> None:
        """The call is over; `owner` names the process that held it when that is not this
        store's (an adopted call)."""
        owner = owner or self._owner
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(_key(call_id), _history_key(call_id))
            pipe.zrem(_tenant_live_key(tenant_id), str(call_id))
            if owner is not None:
                pipe.srem(process_calls_key(owner), str(call_id))
            pipe.publish(live_call_channel(call_id), b"ended")
            await pipe.execute()
