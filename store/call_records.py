"""Writing finished calls to PostgreSQL, through a Redis outbox when it cannot take them.

A record that cannot be written, whatever the reason (PostgreSQL down, starting up, shutting
down, out of connections, a timeout), waits in the outbox and is written by `drain()` later;
records are upserted by call id, so replaying one twice is harmless. Only a record PostgreSQL
refuses for what it is (bad data, a constraint it breaks) goes to the dead-letter list, where
an operator finds it with the reason. Nothing is lost.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Final

import asyncpg
import msgspec
import structlog
from prometheus_client import Counter
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
# A dead letter's reason is a database error message; this keeps the longest of them whole.
_MAX_REASON_CHARS: Final = 500
# SQLSTATE classes that say the record itself is wrong: 22 data exception, 23 integrity
# constraint violation. Every other failure is PostgreSQL (or the way to it) not taking writes.
_INVALID_RECORD_CLASSES: Final = frozenset({"22", "23"})
# Dead letters read per request: each one is a bug or a bad record, so there are few; a list
# longer than this is an incident for an operator, not something to page through.
MAX_DEAD_LETTERS_READ: Final = 1000

DEAD_LETTERED = Counter(
    "vocals_call_records_dead_lettered_total",
    "Call records PostgreSQL refused as invalid, moved to the dead-letter list by this process.",
)


class DeadLetter(msgspec.Struct, kw_only=True):
    """A refused record, why it was refused, and when."""

    record: CallRecord
    reason: str
    at: datetime


async def tenant_dead_letters(redis: Redis, tenant_id: uuid.UUID) -> list[DeadLetter]:
    """The tenant's dead letters, oldest first (among the first `MAX_DEAD_LETTERS_READ`)."""
    letters = []
    for raw in await redis.lrange(DEAD_LETTER_KEY, 0, MAX_DEAD_LETTERS_READ - 1):
        try:
            letter = msgspec.json.decode(raw, type=DeadLetter)
        except msgspec.DecodeError:
            continue  # not a letter this code wrote: left for the operator reading Redis
        if letter.record.tenant_id == tenant_id:
            letters.append(letter)
    return letters


def refused_as_invalid(exc: BaseException) -> bool:
    """True when PostgreSQL refused the record for what it is, so retrying cannot help."""
    if isinstance(exc, Conflict | PermissionError):  # a broken constraint, another tenant's id
        return True
    if isinstance(exc, asyncpg.PostgresError):
        return str(exc.sqlstate or "")[:2] in _INVALID_RECORD_CLASSES
    # asyncpg refuses a value it cannot encode before sending anything: also the record's fault.
    return isinstance(exc, asyncpg.DataError)


class CallRecordWriter:
    def __init__(self, pool: asyncpg.Pool, redis: Redis) -> None:
        self._pool = pool
        self._redis = redis

    async def save(self, record: CallRecord) -> bool:
        """Write the record; True when it reached PostgreSQL, False when it went to the outbox
        (or, refused as invalid, to the dead-letter list)."""
        try:
            await CallRepository(self._pool).upsert(record)
            return True
        except Exception as exc:
            if refused_as_invalid(exc):
                await self._dead_letter(record, exc)
                return False
            log.warning("call record to outbox", call_id=str(record.id), reason=_reason(exc))
        await self._redis.rpush(OUTBOX_KEY, msgspec.json.encode(record))
        return False

    async def pending(self) -> int:
        return int(await self._redis.llen(OUTBOX_KEY))

    async def dead_letters(self) -> int:
        return int(await self._redis.llen(DEAD_LETTER_KEY))

    async def drain(self, *, batch: int = 100) -> int:
        """Write waiting records in order; returns how many left the outbox. One drainer at a
        time across processes, so the head of the list is never taken twice."""
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
                except Exception as exc:
                    if not refused_as_invalid(exc):
                        log.warning("outbox drain paused", reason=_reason(exc))
                        break
                    await self._dead_letter(record, exc)
                await self._redis.lpop(OUTBOX_KEY)
                written += 1
        finally:
            if await self._redis.get(_DRAIN_LOCK_KEY) == token.encode():
                await self._redis.delete(_DRAIN_LOCK_KEY)
        return written

    async def _dead_letter(self, record: CallRecord, exc: BaseException) -> None:
        reason = _reason(exc)
        log.error("call record refused", call_id=str(record.id), reason=reason)
        letter = DeadLetter(record=record, reason=reason, at=datetime.now(UTC))
        await self._redis.rpush(DEAD_LETTER_KEY, msgspec.json.encode(letter))
        DEAD_LETTERED.inc()


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:_MAX_REASON_CHARS]
