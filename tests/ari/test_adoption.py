"""Adoption over real Redis and PostgreSQL: two survivors scanning at the same moment finish
each of a dead process's calls once, and a live process's calls are left alone. (The whole
path through real processes and SIGKILL is tests/faults/test_crash_adoption.py.)"""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg
from redis.asyncio import Redis

from ari_app.adoption import CallAdopter
from ari_app.ports import CallEvent
from store.call_records import CallRecordWriter
from store.live_calls import LiveCallStore
from store.outbound_queue import OutboundJob, OutboundQueue
from store.process_leases import PROCESSES_KEY, ProcessLease
from store.repositories.calls import CallRepository
from store.repositories.config import AgentRepository
from store.repositories.tenants import TenantsRepository
from vocals.loadtest.agent import agent_values
from vocals.loadtest.config import LoadTestConfig

CALLS = 5


class Events:
    """A `CallEventSink` that keeps what it is given."""

    def __init__(self) -> None:
        self.published: list[CallEvent] = []

    async def publish(self, event: CallEvent) -> None:
        self.published.append(event)


async def _process_with_calls(
    pg_pool: asyncpg.Pool, redis: Redis, *, alive: bool
) -> tuple[str, uuid.UUID, list[uuid.UUID]]:
    """A process that started `CALLS` answered calls (one caller utterance each); unless
    `alive`, its lease is then gone as if it had been killed."""
    tenant = await TenantsRepository(pg_pool).create(f"adopt-{uuid.uuid4().hex[:8]}")
    agent = await AgentRepository(pg_pool).create(tenant.id, agent_values(LoadTestConfig()))
    assert agent is not None
    lease = ProcessLease(redis, f"test-{uuid.uuid4().hex[:8]}")
    await lease.renew()
    live = LiveCallStore(redis, owner=lease.process_id)
    now = time.time()
    ids = [uuid.uuid4() for _ in range(CALLS)]
    for call_id in ids:
        await live.start(
            tenant.id,
            call_id,
            {
                "status": "answered",
                "status_times": {"ringing": now - 3, "answered": now - 2},
                "direction": "inbound",
                "agent_id": str(agent.id),
                "from_number": "+15550100000",
                "to_number": "+15550199000",
                "channel_id": f"chan-{call_id}",
            },
        )
        await live.append_history(
            call_id, {"type": "transcript", "role": "caller", "text": "hello", "at_ms": 900}
        )
    if not alive:
        await redis.delete(f"vocals:process:{lease.process_id}:lease")
    return lease.process_id, tenant.id, ids


async def test_two_adopters_at_once_finish_each_call_once(
    pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    dead, tenant_id, ids = await _process_with_calls(pg_pool, redis, alive=False)
    events = Events()
    records = CallRecordWriter(pg_pool, redis)
    adopters = [
        CallAdopter(redis, records, process_id=f"survivor-{n}", events=events) for n in range(2)
    ]
    adopted = await asyncio.gather(*(a.adopt_lapsed() for a in adopters))
    assert sum(adopted) == CALLS
    assert sorted(e.payload["call_id"] for e in events.published) == sorted(map(str, ids))
    assert {e.type for e in events.published} == {"call.ended"}
    assert {e.payload["error"] for e in events.published} == {"process lost"}
    calls = CallRepository(pg_pool)
    for call_id in ids:
        record = await calls.get(tenant_id, call_id)
        assert record is not None
        assert (record.status, record.error_reason) == ("failed", "process lost")
        assert record.transcript == [{"role": "caller", "text": "hello", "at_ms": 900}]
        assert record.answered_at is not None and record.ended_at is not None
    assert await LiveCallStore(redis).live_call_ids(tenant_id) == []
    assert not await redis.sismember(PROCESSES_KEY, dead)  # nothing left of it


async def test_a_live_process_calls_are_left_alone(pg_pool: asyncpg.Pool, redis: Redis) -> None:
    alive, tenant_id, ids = await _process_with_calls(pg_pool, redis, alive=True)
    adopter = CallAdopter(redis, CallRecordWriter(pg_pool, redis), process_id="survivor")
    assert await adopter.adopt_lapsed() == 0
    assert sorted(await LiveCallStore(redis).live_call_ids(tenant_id)) == sorted(ids)
    # It ends its calls and stops cleanly: nothing is left for later tests' processes to adopt.
    for call_id in ids:
        await LiveCallStore(redis, owner=alive).end(tenant_id, call_id)
    await ProcessLease(redis, alive).release()
    assert not await redis.sismember(PROCESSES_KEY, alive)


async def test_an_outbound_call_still_in_the_queue_is_left_to_be_dialled_again(
    pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    """Killed while waiting for its pacing slot: the job was never acked, so the queue dials
    it again under the same id and its record comes from that attempt."""
    tenant = await TenantsRepository(pg_pool).create(f"adopt-{uuid.uuid4().hex[:8]}")
    agent = await AgentRepository(pg_pool).create(tenant.id, agent_values(LoadTestConfig()))
    assert agent is not None
    queue = OutboundQueue(redis)
    job = OutboundJob(
        call_id=uuid.uuid4(), tenant_id=tenant.id, agent_id=agent.id, to_number="+15550100001"
    )
    await queue.enqueue(job)
    lease = ProcessLease(redis, f"test-{uuid.uuid4().hex[:8]}")
    await lease.renew()
    await LiveCallStore(redis, owner=lease.process_id).start(
        tenant.id,
        job.call_id,
        {"status": "dialing", "direction": "outbound", "agent_id": str(agent.id)},
    )
    await redis.delete(f"vocals:process:{lease.process_id}:lease")
    adopter = CallAdopter(redis, CallRecordWriter(pg_pool, redis), process_id="survivor")
    assert await adopter.adopt_lapsed() == 0
    assert await CallRepository(pg_pool).get(tenant.id, job.call_id) is None
    assert await queue.pending(job.call_id)
    assert await LiveCallStore(redis).live_call_ids(tenant.id) == []
    assert not await redis.sismember(PROCESSES_KEY, lease.process_id)
