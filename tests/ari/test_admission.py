"""Admission control over Asterisk: a call beyond the process's capacity is refused as
congested before it is answered, recorded and announced, and the live calls carry on."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from redis.asyncio import Redis

from ari_app.admission import OVER_CAPACITY, Admission
from store.outbound_queue import DUE_KEY, LEASED_KEY, OutboundJob, OutboundQueue
from store.repositories.calls import CallRepository
from store.repositories.config import AgentRepository
from tests.ari.harness import Process, Tenancy, eventually, make_agent
from tests.fakes.asterisk import Callee, FakeAsterisk, ScriptedCaller
from tests.twilio.harness import EventLog

# FakeTTS speaks 40 ms per character: about 7 s of welcome, long enough to refuse a call
# while both live calls are hearing it.
LONG_WELCOME = "Hello and welcome, you reached the test agent of the admission tests. " * 2
# Play-out of a live call: frames every 20 ms; a hole would be several frames long.
MAX_GAP_S = 0.1
# Many dispatcher polls (20 ms apart in the harness): long enough for a dispatcher that
# ignored its capacity to have dialled.
NOTHING_DIALLED_S = 0.5


@pytest.fixture
async def fake() -> AsyncIterator[FakeAsterisk]:
    server = FakeAsterisk()
    await server.start()
    yield server
    await server.stop()


def max_gap(caller: ScriptedCaller, start: float, end: float) -> float:
    times = [t for t in caller.arrivals if start <= t <= end]
    return max((b - a for a, b in itertools.pairwise(times)), default=float("inf"))


async def test_a_call_beyond_capacity_is_refused_and_live_calls_carry_on(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    agent = await make_agent(pg_pool)
    events = EventLog()
    proc = Process(
        fake, pg_pool, redis, welcome=LONG_WELCOME, admission=Admission(2), events=events
    )
    await proc.start()
    assert proc.controller is not None and proc.admission is not None
    try:
        live = [await fake.inbound_call(agent.did) for _ in range(2)]
        for caller in live:
            await caller.wait_received(500)
        refused_at = time.monotonic()
        refused = await fake.inbound_call(agent.did)
        await refused.wait_ended(5)
        assert not refused.answered.is_set()
        hangups = fake.calls_to("DELETE", f"/channels/{refused.channel_id}")
        assert [h.params for h in hangups] == [{"reason": "congestion"}]
        assert len(fake.live_bridges()) == 2  # nothing was set up for it

        # The live calls' welcome plays on through the refusal without a hole.
        after = time.monotonic()
        for caller in live:
            await caller.wait_received(caller.received_ms + 1000)
            assert not caller.ended.is_set()
            assert max_gap(caller, refused_at - 0.5, after + 1.0) <= MAX_GAP_S
        assert proc.admission.live == 2
        assert proc.admission.refused == {"calls": 1}

        for caller in live:
            await caller.hangup()
        await eventually(lambda: proc.admission is not None and proc.admission.live == 0)
    finally:
        await proc.stop()
    records = (await CallRepository(pg_pool).list_page(agent.tenant_id)).items
    failed = [r for r in records if r.status == "failed"]
    assert len(records) == 3 and len(failed) == 1
    [record] = failed
    assert record.error_reason == OVER_CAPACITY and record.answered_at is None
    assert events.types(record.id) == ["call.failed"]
    [event] = [e for e in events.events if e.payload["call_id"] == str(record.id)]
    assert event.payload["error"] == OVER_CAPACITY


async def test_a_freed_slot_takes_the_next_call(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    agent = await make_agent(pg_pool)
    proc = Process(fake, pg_pool, redis, admission=Admission(1))
    await proc.start()
    try:
        first = await fake.inbound_call(agent.did)
        await asyncio.wait_for(first.answered.wait(), 5)
        await first.hangup()
        await eventually(lambda: proc.admission is not None and proc.admission.live == 0)
        second = await fake.inbound_call(agent.did)
        await asyncio.wait_for(second.answered.wait(), 5)
        await second.hangup()
    finally:
        await proc.stop()


@pytest.mark.usefixtures("empty_outbound_queue")
async def test_the_dispatcher_leaves_jobs_queued_while_full_and_dials_when_a_slot_frees(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    agent = await make_agent(pg_pool)
    fake.callees["15551239000"] = Callee(amd_status="HUMAN", amd_cause="HUMAN-803-800")
    proc = Process(fake, pg_pool, redis, app="vocals-admission", admission=Admission(1))
    await proc.start(dispatch=True)
    try:
        inbound = await fake.inbound_call(agent.did, app="vocals-admission")
        await asyncio.wait_for(inbound.answered.wait(), 5)
        call_id = uuid.uuid4()
        await OutboundQueue(redis).enqueue(
            OutboundJob(
                call_id=call_id,
                tenant_id=agent.tenant_id,
                agent_id=agent.agent_id,
                to_number="15551239000",
            )
        )
        # A negative: nothing may happen however long we wait, so wait a bounded while.
        await asyncio.sleep(NOTHING_DIALLED_S)
        assert fake.answered.empty() and not fake.calls_to("POST", f"/channels/{call_id}")
        assert await redis.zscore(DUE_KEY, str(call_id)) is not None
        assert await redis.zscore(LEASED_KEY, str(call_id)) is None

        await inbound.hangup()
        callee = await asyncio.wait_for(fake.answered.get(), 10)
        await callee.hangup()
        await eventually(lambda: proc.admission is not None and proc.admission.live == 0)
    finally:
        await proc.stop()


async def test_local_model_calls_have_their_own_lower_limit(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    offline = await make_agent(pg_pool)  # no vendor chosen: the offline defaults
    cloud = await make_agent(pg_pool)
    await AgentRepository(pg_pool).update(
        cloud.tenant_id,
        cloud.agent_id,
        {"stt": {"vendor": "deepgram"}, "tts": {"vendor": "elevenlabs"}},
    )
    proc = Process(fake, pg_pool, redis, admission=Admission(3, 1))
    await proc.start()
    try:
        local = await fake.inbound_call(offline.did)
        await asyncio.wait_for(local.answered.wait(), 5)
        second_local = await fake.inbound_call(offline.did)
        await second_local.wait_ended(5)
        assert not second_local.answered.is_set()
        remote = await fake.inbound_call(cloud.did)
        await asyncio.wait_for(remote.answered.wait(), 5)
        assert proc.admission is not None
        assert proc.admission.refused == {"local_calls": 1}
        assert (proc.admission.live, proc.admission.live_local) == (2, 1)
        await local.hangup()
        await remote.hangup()
    finally:
        await proc.stop()


async def pocketsphinx_agent(pg_pool: asyncpg.Pool) -> Tenancy:
    agent = await make_agent(pg_pool)
    await AgentRepository(pg_pool).update(
        agent.tenant_id, agent.agent_id, {"stt": {"vendor": "pocketsphinx"}}
    )
    return agent


async def test_a_pocketsphinx_call_counts_for_its_cost_against_the_local_limit(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    # PocketSphinx costs the workers 2.2 times the CPU of a call on the offline defaults.
    sphinx = await pocketsphinx_agent(pg_pool)
    offline = await make_agent(pg_pool)
    proc = Process(fake, pg_pool, redis, admission=Admission(10, 4))
    await proc.start()
    try:
        first = await fake.inbound_call(sphinx.did)
        await asyncio.wait_for(first.answered.wait(), 5)
        second = await fake.inbound_call(sphinx.did)
        await second.wait_ended(5)
        assert not second.answered.is_set()
        default = await fake.inbound_call(offline.did)
        await asyncio.wait_for(default.answered.wait(), 5)
        full = await fake.inbound_call(offline.did)
        await full.wait_ended(5)
        assert not full.answered.is_set()
        assert proc.admission is not None
        assert proc.admission.refused == {"local_calls": 2}
        assert (proc.admission.live, proc.admission.live_local) == (2, 3.5)
        await first.hangup()
        await default.hangup()
    finally:
        await proc.stop()


async def test_a_limit_below_a_calls_weight_still_takes_one_such_call(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    sphinx = await pocketsphinx_agent(pg_pool)
    proc = Process(fake, pg_pool, redis, admission=Admission(10, 2))
    await proc.start()
    try:
        first = await fake.inbound_call(sphinx.did)
        await asyncio.wait_for(first.answered.wait(), 5)
        second = await fake.inbound_call(sphinx.did)
        await second.wait_ended(5)
        assert not second.answered.is_set()
        assert proc.admission is not None
        assert (proc.admission.live_local, proc.admission.refused) == (2.5, {"local_calls": 1})
        await first.hangup()
    finally:
        await proc.stop()


async def test_a_cloud_agent_with_silero_vad_counts_as_a_local_model_call(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    # Silero runs in the local workers: such a call costs the machine's CPU like a local STT.
    cloud = {"stt": {"vendor": "deepgram"}, "tts": {"vendor": "elevenlabs"}}
    silero = await make_agent(pg_pool)
    await AgentRepository(pg_pool).update(
        silero.tenant_id, silero.agent_id, {**cloud, "vad": "silero"}
    )
    webrtc = await make_agent(pg_pool)
    await AgentRepository(pg_pool).update(webrtc.tenant_id, webrtc.agent_id, cloud)
    proc = Process(fake, pg_pool, redis, admission=Admission(3, 1))
    await proc.start()
    try:
        first = await fake.inbound_call(silero.did)
        await asyncio.wait_for(first.answered.wait(), 5)
        second = await fake.inbound_call(silero.did)
        await second.wait_ended(5)
        assert not second.answered.is_set()
        plain = await fake.inbound_call(webrtc.did)
        await asyncio.wait_for(plain.answered.wait(), 5)
        assert proc.admission is not None
        assert proc.admission.refused == {"local_calls": 1}
        assert (proc.admission.live, proc.admission.live_local) == (2, 1)
        await first.hangup()
        await plain.hangup()
    finally:
        await proc.stop()
