from __future__ import annotations

import asyncio
import itertools
import time
import uuid

from redis.asyncio import Redis

from store.outbound_queue import OutboundJob, OutboundQueue


def _job(not_before: float = 0.0) -> OutboundJob:
    return OutboundJob(
        call_id=uuid.uuid4(),
        tenant_id=uuid.uuid4(),
        agent_id=uuid.uuid4(),
        to_number="+1555",
        not_before=not_before,
    )


async def test_concurrent_claimers_never_take_the_same_job(redis: Redis) -> None:
    await redis.flushdb()
    queue = OutboundQueue(redis)
    jobs = [_job() for _ in range(20)]
    for job in jobs:
        await queue.enqueue(job)

    async def worker() -> list[uuid.UUID]:
        own = OutboundQueue(Redis(connection_pool=redis.connection_pool))
        taken = []
        while (job := await own.claim()) is not None:
            taken.append(job.call_id)
        return taken

    results = await asyncio.gather(*(worker() for _ in range(5)))
    claimed = [c for r in results for c in r]
    assert sorted(claimed) == sorted(j.call_id for j in jobs)
    assert len(set(claimed)) == len(claimed)


async def test_an_expired_lease_puts_the_job_back(redis: Redis) -> None:
    await redis.flushdb()
    queue = OutboundQueue(redis)
    job = _job()
    await queue.enqueue(job)
    claimed = await queue.claim(lease_s=10)
    assert claimed is not None and claimed.call_id == job.call_id
    assert await queue.claim() is None
    again = await queue.claim(now=time.time() + 11)
    assert again is not None and again.call_id == job.call_id
    await queue.ack(job.call_id)
    assert await queue.claim(now=time.time() + 100) is None
    assert await queue.depth() == {"due": 0, "leased": 0}


async def test_a_renewed_lease_keeps_the_job_from_other_claimers(redis: Redis) -> None:
    await redis.flushdb()
    queue = OutboundQueue(redis)
    job = _job()
    await queue.enqueue(job)
    assert await queue.claim(lease_s=1) is not None
    await queue.renew(job.call_id, lease_s=30)
    assert await queue.claim(now=time.time() + 5) is None
    again = await queue.claim(now=time.time() + 31)
    assert again is not None and again.call_id == job.call_id


async def test_scheduled_jobs_wait_until_due(redis: Redis) -> None:
    await redis.flushdb()
    queue = OutboundQueue(redis)
    job = _job(not_before=time.time() + 60)
    await queue.enqueue(job)
    assert await queue.claim() is None
    assert await queue.cancel(job.call_id) is True
    assert await queue.job(job.call_id) is None


async def test_pacing_hands_out_slots_at_the_trunk_rate(redis: Redis) -> None:
    await redis.flushdb()
    queue = OutboundQueue(redis)
    waits = [await queue.pace("trunk-a", cps=2) for _ in range(4)]
    assert waits[0] < 0.05
    for earlier, later in itertools.pairwise(waits):
        assert 0.4 < later - earlier < 0.6
    assert await queue.pace("trunk-b", cps=2) < 0.05


async def test_trunk_call_slots_are_limited_and_expire(redis: Redis) -> None:
    await redis.flushdb()
    queue = OutboundQueue(redis)
    first, second = uuid.uuid4(), uuid.uuid4()
    assert await queue.take_call_slot("t", first, 1, lease_s=0.2)
    assert not await queue.take_call_slot("t", second, 1, lease_s=0.2)
    await asyncio.sleep(0.3)
    assert await queue.take_call_slot("t", second, 1, lease_s=5)
    await queue.free_call_slot("t", second)
    assert await queue.take_call_slot("t", first, 1, lease_s=5)
