"""Writing finished calls to PostgreSQL, through a Redis outbox when PostgreSQL is down.

A record that cannot be written waits in the outbox and is written by `drain()` later; records
are upserted by call id, so replaying one twice is harmless. Nothing is lost.
"""

from __future__ import annotations

import uuid

import asyncpg
import msgspec
import structlog
from redis.asyncio import Redis

from store.models import CallRecord
from store.redis import KEY_PREFIX
from store.repositories.base import Conflict
from store.repositories.calls import CallRepository

log = structlog.get_logger(__name__)

OUTBOX_KEY = f"{KEY_PREFIX}outbox:calls"
# Records PostgreSQL refused for what they are (not for being down): kept for a human to look at.
DEAD_LETTER_KEY = f"{KEY_PREFIX}outbox:calls:dead"
_DRAIN_LOCK_KEY = f"{KEY_PREFIX}outbox:calls:drain-lock"
# Long enough for a batch of upserts; a drainer that dies frees the lock within this time.
DRAIN_LOCK_TTL_S = 30
# Failures that mean "PostgreSQL is unavailable", not "this record is wrong".
_UNAVAILABLE = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError, TimeoutError)


class CallRecordWriter:
    def __init__(self, pool: asyncpg.Pool, redis: Redis) -> None:
        self._pool = pool
        self._redis = redis

    async def save(self, record: CallRecord) -> bool:
        """Write the record; True when it reached PostgreSQL, False when it went to the outbox."""
        try:
            await CallRepository(self._pool).upsert(record)
            return True
        except _UNAVAILABLE as exc:
            log.warning("call record to outbox", call_id=str(record.id), reason=str(exc))
        await self._redis.rpush(OUTBOX_KEY, msgspec.json.encode(record))
        return False

    async def pending(self) -> int:
        return int(await self._redis.llen(OUTBOX_KEY))

    async def drain(self, *, batch: int = 100) -> int:
        """Write waiting records in order; returns how many were written. One drainer at a time
        across processes, so the head of the list is never taken twice."""
        token = uuid.uuid4().hex
        if not await self._redis.set(_DRAIN_LOCK_KEY, token, nx=True, ex=DRAIN_LOCK_TTL_S):
            return 0
        written = 0
        repository = CallRepository(self._pool)
        try:
            while written < batch:
                head = await self._redis.lindex(OUTBOX_KEY, 0)
                if head is None:
                    break
                record = msgspec.json.decode(head, type=CallRecord)
                try:
                    await repository.upsert(record)
                except _UNAVAILABLE as exc:
                    log.warning("outbox drain paused", reason=str(exc))
                    break
                except (Conflict, PermissionError) as exc:
                    log.error("call record refused", call_id=str(record.id), reason=str(exc))
                    await self._redis.rpush(DEAD_LETTER_KEY, head)
                await self._redis.lpop(OUTBOX_KEY)
                written += 1
        finally:
            if await self._redis.get(_DRAIN_LOCK_KEY) == token.encode():
                await self._redis.delete(_DRAIN_LOCK_KEY)
        return written
