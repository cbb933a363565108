"""Process leases in Redis: each serving process holds a heartbeat key with a TTL, and the live
calls it owns are listed under its id. A process whose lease lapsed is gone (killed, frozen,
cut off), and its calls are taken over by a survivor through a per-call adoption lock."""

from __future__ import annotations

import os
import socket
import uuid
from typing import Final

from redis.asyncio import Redis

from store.redis import KEY_PREFIX

# A crashed process's calls are adopted this long after its last heartbeat at the latest; long
# enough that a Redis failover or an event loop stalled for a few seconds does not look dead.
DEFAULT_LEASE_TTL_S: Final = 15.0
# Heartbeats per TTL: two missed in a row still keep the lease.
RENEWALS_PER_TTL: Final = 3
# Longer than adopting one call takes (record, recording, hang-ups). Never released: until it
# runs out nobody else adopts the call, and by then its live entry is gone.
ADOPTION_LOCK_TTL_S: Final = 300
PROCESSES_KEY: Final = f"{KEY_PREFIX}processes"


def _lease_key(process_id: str) -> str:
    return f"{KEY_PREFIX}process:{process_id}:lease"


def process_calls_key(process_id: str) -> str:
    """The set of call ids a process owns (written with the call's live state)."""
    return f"{KEY_PREFIX}process:{process_id}:calls"


def _adoption_key(call_id: uuid.UUID, owner: str) -> str:
    # Per owner: a call dialled again after its first owner died can be adopted from the next.
    return f"{KEY_PREFIX}call:{call_id}:adopted-from:{owner}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def new_process_id() -> str:
    """Unique per start, readable in Redis: host, pid and a random suffix."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class ProcessLease:
    """This process's heartbeat lease."""

    def __init__(
        self, redis: Redis, process_id: str, *, ttl_s: float = DEFAULT_LEASE_TTL_S
    ) -> None:
        self._redis = redis
        self.process_id = process_id
        self.ttl_s = ttl_s

    @property
    def renew_every_s(self) -> float:
        return self.ttl_s / RENEWALS_PER_TTL

    async def renew(self) -> bool:
        """Take or extend the lease; False when it had lapsed (this process was taken for
        dead, and its calls may have been adopted)."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(_lease_key(self.process_id), b"1", px=int(self.ttl_s * 1000), get=True)
            pipe.sadd(PROCESSES_KEY, self.process_id)
            previous, _ = await pipe.execute()
        return previous is not None

    async def release(self) -> None:
        """At a clean stop: the lease goes, and so does the registration unless calls are
        left (a survivor adopts those)."""
        await self._redis.delete(_lease_key(self.process_id))
        await forget_if_idle(self._redis, self.process_id)


async def lapsed_processes(redis: Redis, *, exclude: str) -> list[str]:
    """Registered processes (other than `exclude`) whose lease is gone."""
    members = [_text(m) for m in await redis.smembers(PROCESSES_KEY)]
    others = [m for m in members if m != exclude]
    if not others:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for process_id in others:
            pipe.exists(_lease_key(process_id))
        alive = await pipe.execute()
    return [p for p, up in zip(others, alive, strict=True) if not up]


async def owned_calls(redis: Redis, process_id: str) -> list[uuid.UUID]:
    return [uuid.UUID(_text(m)) for m in await redis.smembers(process_calls_key(process_id))]


async def forget_if_idle(redis: Redis, process_id: str) -> None:
    """Drop a lease-less process's registration once it owns no call."""
    if not await redis.exists(_lease_key(process_id)) and not await redis.scard(
        process_calls_key(process_id)
    ):
        await redis.srem(PROCESSES_KEY, process_id)


async def claim_adoption(redis: Redis, call_id: uuid.UUID, owner: str, adopter: str) -> bool:
    """True for exactly one adopter of `call_id` from the dead process `owner`."""
    return bool(
        await redis.set(_adoption_key(call_id, owner), adopter, nx=True, ex=ADOPTION_LOCK_TTL_S)
    )
