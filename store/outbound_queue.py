"""The outbound call queue in Redis, shared by every process.

Jobs wait in a sorted set by due time. `claim` moves one due job to the leased set atomically,
so two dispatchers never take the same call; a lease that is not acked before it expires (the
dispatcher died) puts the job back. Pacing and concurrency per trunk are Redis keys with TTLs,
so a crash frees what it held.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import msgspec
from redis.asyncio import Redis

from store.redis import KEY_PREFIX

DUE_KEY = f"{KEY_PREFIX}outbound:due"
LEASED_KEY = f"{KEY_PREFIX}outbound:leased"
# Long enough to originate and learn the outcome of ringing; the holder renews it meanwhile.
DEFAULT_LEASE_S = 60.0


def _job_key(call_id: str) -> str:
    return f"{KEY_PREFIX}outbound:job:{call_id}"


class OutboundJob(msgspec.Struct, kw_only=True):
    """A call waiting to be dialled."""

    call_id: uuid.UUID
    tenant_id: uuid.UUID
    agent_id: uuid.UUID
    to_number: str
    from_number: str = ""
    trunk_id: uuid.UUID | None = None
    variables: dict[str, str] = msgspec.field(default_factory=dict)
    not_before: float = 0.0
    attempts: int = 0
    # An admin chose to call this number although it is on the do-not-call list.
    override_do_not_call: bool = False
    # A campaign's call: paced by the campaign's own rate too (see `pace`).
    campaign_id: uuid.UUID | None = None
    campaign_cps: float = 0.0


def campaign_pace_key(campaign_id: uuid.UUID) -> str:
    """The `pace` key of a campaign's own rate, whichever carrier dials its calls."""
    return f"campaign:{campaign_id}"


# KEYS: due, leased. ARGV: now, lease_until. Returns the claimed call id or nil.
_CLAIM = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1)
if #ids == 0 then return nil end
redis.call('ZREM', KEYS[1], ids[1])
redis.call('ZADD', KEYS[2], ARGV[2], ids[1])
return ids[1]
"""

# KEYS: due, leased. ARGV: now. Moves expired leases back to due; returns how many.
_REQUEUE = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[2], id)
  redis.call('ZADD', KEYS[1], ARGV[1], id)
end
return #ids
"""

# KEYS: active set of a trunk. ARGV: now, lease_until, call id, max. 1 when a slot was taken.
_TAKE_SLOT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
return 1
"""


# KEYS: the trunk's next free slot (ms). ARGV: now_ms, interval_ms. Returns the reserved slot.
_PACE = """
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
local t = math.max(nxt, tonumber(ARGV[1]))
redis.call('SET', KEYS[1], t + tonumber(ARGV[2]), 'PX', tonumber(ARGV[2]) * 2 + 60000)
return t
"""


class OutboundQueue:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._claim = redis.register_script(_CLAIM)
        self._requeue = redis.register_script(_REQUEUE)
        self._take_slot = redis.register_script(_TAKE_SLOT)
        self._pace = redis.register_script(_PACE)

    async def enqueue(self, job: OutboundJob) -> None:
        """Queue a call, due at `job.not_before` (0 = now)."""
        call_id = str(job.call_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(_job_key(call_id), msgspec.json.encode(job))
            pipe.zadd(DUE_KEY, {call_id: job.not_before})
            await pipe.execute()

    async def claim(
        self, *, lease_s: float = DEFAULT_LEASE_S, now: float | None = None
    ) -> OutboundJob | None:
        """Take the next due job under a lease, or None when nothing is due."""
        now = time.time() if now is None else now
        await self._requeue(keys=[DUE_KEY, LEASED_KEY], args=[now])
        claimed = await self._claim(keys=[DUE_KEY, LEASED_KEY], args=[now, now + lease_s])
        if claimed is None:
            return None
        call_id = claimed.decode() if isinstance(claimed, bytes) else str(claimed)
        raw = await self._redis.get(_job_key(call_id))
        if raw is None:
            await self._redis.zrem(LEASED_KEY, call_id)
            return None
        return msgspec.json.decode(raw, type=OutboundJob)

    async def renew(self, call_id: uuid.UUID, *, lease_s: float) -> None:
        """Extend a claimed job's lease to `lease_s` from now (a holder that waits longer)."""
        await self._redis.zadd(LEASED_KEY, {str(call_id): time.time() + lease_s}, xx=True)

    async def pending(self, call_id: uuid.UUID) -> bool:
        """True while the job is queued or claimed (not acked): it will be dialled (again)."""
        return bool(await self._redis.exists(_job_key(str(call_id))))

    async def ack(self, call_id: uuid.UUID) -> None:
        """The job is done (dialled, or given up): remove it for good."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zrem(LEASED_KEY, str(call_id))
            pipe.zrem(DUE_KEY, str(call_id))
            pipe.delete(_job_key(str(call_id)))
            await pipe.execute()

    async def release(self, job: OutboundJob, *, not_before: float) -> None:
        """Give a claimed job back, due again at `not_before` (e.g. its trunk is full)."""
        call_id = str(job.call_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zrem(LEASED_KEY, call_id)
            pipe.zadd(DUE_KEY, {call_id: not_before})
            await pipe.execute()

    async def cancel(self, call_id: uuid.UUID) -> bool:
        """Remove a job that has not been claimed; False when it is not waiting."""
        removed = await self._redis.zrem(DUE_KEY, str(call_id))
        if removed:
            await self._redis.delete(_job_key(str(call_id)))
        return bool(removed)

    async def depth(self) -> dict[str, int]:
        return {
            "due": int(await self._redis.zcard(DUE_KEY)),
            "leased": int(await self._redis.zcard(LEASED_KEY)),
        }

    async def pace(self, trunk: str, cps: float) -> float:
        """Reserve the trunk's next origination slot at `cps` calls per second.

        Returns how many seconds to wait before dialling (0 = now). Slots are handed out in
        order across processes, so N dispatchers together still hold the trunk's rate.
        """
        interval_ms = max(1, int(1000 / cps))
        key = f"{KEY_PREFIX}outbound:pace:{trunk}"
        now_ms = int(time.time() * 1000)
        slot = await self._pace(keys=[key], args=[now_ms, interval_ms])
        return max(0.0, (int(slot) - now_ms) / 1000)

    async def take_call_slot(
        self, trunk: str, call_id: uuid.UUID, max_calls: int, *, lease_s: float
    ) -> bool:
        """Count a call against the trunk's concurrent limit; False when the trunk is full.
        The slot expires after `lease_s` unless renewed, so a crashed process frees it."""
        now = time.time()
        taken = await self._take_slot(
            keys=[f"{KEY_PREFIX}outbound:active:{trunk}"],
            args=[now, now + lease_s, str(call_id), max_calls],
        )
        return bool(taken)

    async def renew_call_slot(self, trunk: str, call_id: uuid.UUID, *, lease_s: float) -> None:
        await self._redis.zadd(
            f"{KEY_PREFIX}outbound:active:{trunk}", {str(call_id): time.time() + lease_s}, xx=True
        )

    async def free_call_slot(self, trunk: str, call_id: uuid.UUID) -> None:
        await self._redis.zrem(f"{KEY_PREFIX}outbound:active:{trunk}", str(call_id))

    async def job(self, call_id: uuid.UUID) -> dict[str, Any] | None:
        raw = await self._redis.get(_job_key(str(call_id)))
        return None if raw is None else dict(msgspec.json.decode(raw))
