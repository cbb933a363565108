"""Outbound calls end to end: Redis queue -> dispatcher -> originate into the AMD context ->
AMD result -> conversation, voicemail policy, busy and no-answer records."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace

import asyncpg
import pytest
from redis.asyncio import Redis

from ari_app.outbound import TrunkRoute
from store.models import CallRecord
from store.outbound_queue import LEASED_KEY, OutboundJob, OutboundQueue
from store.repositories.calls import CallRepository
from tests.ari.harness import Process, Tenancy, eventually, make_agent
from tests.fakes.asterisk import Callee, FakeAsterisk, ScriptedCaller, tone
from tests.media.speechlike import speechlike
from tests.pipeline.harness import FAST_TIMEOUTS

pytestmark = pytest.mark.usefixtures("empty_outbound_queue")

ORIGINATE_PATH = re.compile(r"^/channels/(?!externalMedia$)[^/]+$")


@pytest.fixture
async def fake() -> AsyncIterator[FakeAsterisk]:
    server = FakeAsterisk(time_scale=0.02)
    await server.start()
    yield server
    await server.stop()


async def enqueue(redis: Redis, agent: Tenancy, number: str) -> uuid.UUID:
    call_id = uuid.uuid4()
    await OutboundQueue(redis).enqueue(
        OutboundJob(
            call_id=call_id,
            tenant_id=agent.tenant_id,
            agent_id=agent.agent_id,
            to_number=number,
            from_number="15550001111",
        )
    )
    return call_id


async def record_of(pool: asyncpg.Pool, agent: Tenancy, call_id: uuid.UUID) -> CallRecord:
    repo = CallRepository(pool)
    found: list[CallRecord] = []

    async def fetch() -> None:
        for _ in range(200):
            record = await repo.get(agent.tenant_id, call_id)
            if record is not None:
                found.append(record)
                return
            await asyncio.sleep(0.05)

    await fetch()
    assert found, "no call record"
    return found[0]


async def test_human_answer_gets_the_conversation(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    agent = await make_agent(pg_pool)
    fake.callees["15551230001"] = Callee(amd_status="HUMAN", amd_cause="HUMAN-803-800")
    proc = Process(fake, pg_pool, redis, app="vocals-out1")
    await proc.start(dispatch=True)
    try:
        call_id = await enqueue(redis, agent, "15551230001")
        callee = await asyncio.wait_for(fake.answered.get(), 10)
        await callee.wait_received(1000)  # the agent's welcome
        await callee.hangup()
        record = await record_of(pg_pool, agent, call_id)
    finally:
        await proc.stop()
    assert (record.direction, record.status, record.outcome) == (
        "outbound",
        "completed",
        "caller_hung_up",
    )
    assert record.variables["amd"] == {"status": "HUMAN", "cause": "HUMAN-803-800"}
    times = record.variables["status_times"]
    assert list(times) == ["queued", "dialing", "ringing", "answered", "completed"]
    assert list(times.values()) == sorted(times.values())
    [post] = [c for c in fake.rest_log if c.path == f"/channels/{call_id}"]
    assert post.params["context"] == "vocals-outbound"
    assert post.body == {"variables": {"VOCALS_APP": "vocals-out1", "VOCALS_CALL_ID": str(call_id)}}
    # The trunk's endpoint, before the originate: its channels' events from their creation.
    assert [c.params for c in fake.calls_to("POST", "/applications/vocals-out1/subscription")] == [
        {"eventSource": "endpoint:PJSIP/trunk1"}
    ]
    assert not fake.live_channels() and not fake.live_bridges()
    assert proc.dispatcher is not None and proc.dispatcher.active == {}


async def test_machine_with_hangup_policy_never_starts_a_conversation(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    agent = await make_agent(pg_pool)
    fake.callees["15551230002"] = Callee(amd_status="MACHINE", amd_cause="MAXWORDS-3-2")
    proc = Process(fake, pg_pool, redis, app="vocals-out2")
    await proc.start(dispatch=True)
    try:
        call_id = await enqueue(redis, agent, "15551230002")
        callee = await asyncio.wait_for(fake.answered.get(), 10)
        await callee.wait_ended(5)
        record = await record_of(pg_pool, agent, call_id)
    finally:
        await proc.stop()
    assert (record.status, record.outcome) == ("completed", "voicemail")
    assert "voicemail" in record.variables["status_times"]
    assert callee.received_ms == 0 and proc.llms == []
    assert fake.calls_to("POST", "/channels/externalMedia") == []


async def test_machine_with_leave_message_policy_plays_it(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    message = "Hi, this is the clinic reminding you of tomorrow's appointment."
    agent = await make_agent(pg_pool, voicemail="leave_message", message=message)
    fake.callees["15551230003"] = Callee(amd_status="MACHINE", amd_cause="MAXWORDS-3-2")
    proc = Process(fake, pg_pool, redis, app="vocals-out3")
    await proc.start(dispatch=True)
    try:
        call_id = await enqueue(redis, agent, "15551230003")
        callee = await asyncio.wait_for(fake.answered.get(), 10)
        await callee.wait_ended(15)
        record = await record_of(pg_pool, agent, call_id)
    finally:
        await proc.stop()
    # FakeTTS speaks 40 ms per character: the whole message reached the box, then hangup.
    assert callee.received_ms >= len(message) * 40 - 100
    assert callee.ended_by == "asterisk"
    assert (record.status, record.outcome) == ("completed", "voicemail")
    assert proc.llms == []


def _bridged_at(fake: FakeAsterisk) -> float:
    [bridged] = [c for c in fake.calls_to("POST", "/bridges/") if c.path.endswith("/addChannel")]
    return bridged.t


async def _leave_message_to(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis, greeting: bytes, **timeouts: float
) -> tuple[float, ScriptedCaller]:
    """Seconds from the callee's greeting starting (its audio flows once bridged) to the
    agent's message reaching it, and the callee."""
    agent = await make_agent(pg_pool, voicemail="leave_message", message="Please call us back.")
    number = f"1555{uuid.uuid4().int % 10**7:07d}"
    fake.callees[number] = Callee(amd_status="MACHINE", amd_cause="MAXWORDS-3-2", greeting=greeting)
    app = f"vocals-vm-{uuid.uuid4().hex[:6]}"
    proc = Process(fake, pg_pool, redis, app=app, timeouts=replace(FAST_TIMEOUTS, **timeouts))
    await proc.start(dispatch=True)
    try:
        await enqueue(redis, agent, number)
        callee = await asyncio.wait_for(fake.answered.get(), 10)
        await callee.wait_ended(15)
    finally:
        await proc.stop()
    assert callee.first_audio_at is not None
    return callee.first_audio_at - _bridged_at(fake), callee


GREETING_MS = 2000
BEEP_MS = 300


# After its beep a mailbox sends quiet audio, or (a silent far end) no frames at all.
@pytest.mark.parametrize("after_beep", [bytes(16 * 1000), b""], ids=["quiet", "no-frames"])
async def test_voicemail_message_starts_after_the_beep(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis, after_beep: bytes
) -> None:
    greeting = speechlike(8000, [(True, 900), (False, 200), (True, 900)])
    after_s, callee = await _leave_message_to(
        fake,
        pg_pool,
        redis,
        greeting + tone(1000, BEEP_MS / 1000) + after_beep,
        voicemail_quiet_s=2.0,  # so that only the beep can start the message this early
    )
    beep_end_s = (GREETING_MS + BEEP_MS) / 1000
    assert beep_end_s <= after_s < beep_end_s + 1.0, after_s
    assert callee.received_ms >= len("Please call us back.") * 40 - 100


async def test_voicemail_message_without_a_beep_waits_for_the_greeting_to_end(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    greeting = speechlike(8000, [(True, GREETING_MS)])
    after_s, _ = await _leave_message_to(fake, pg_pool, redis, greeting, voicemail_quiet_s=0.6)
    # The greeting's last 20 ms frame may already read as quiet, so its end is known to a frame.
    earliest_s = (GREETING_MS - 20) / 1000 + 0.6
    assert earliest_s <= after_s < GREETING_MS / 1000 + 1.6, after_s


async def test_voicemail_message_is_left_after_the_longest_wait(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    endless = speechlike(8000, [(True, 6000)])
    after_s, _ = await _leave_message_to(fake, pg_pool, redis, endless, voicemail_beep_s=1.5)
    assert 1.5 <= after_s < 2.5, after_s


@pytest.mark.parametrize(
    ("outcome", "status", "cause"),
    [("busy", "busy", 17), ("no-answer", "no-answer", 19), ("unreachable", "no-answer", 18)],
)
async def test_unanswered_calls_are_recorded(
    fake: FakeAsterisk,
    pg_pool: asyncpg.Pool,
    redis: Redis,
    outcome: str,
    status: str,
    cause: int,
) -> None:
    agent = await make_agent(pg_pool)
    number = f"1555124{cause:04d}"
    fake.callees[number] = Callee(outcome=outcome)  # type: ignore[arg-type]
    proc = Process(fake, pg_pool, redis, app=f"vocals-{outcome}")
    await proc.start(dispatch=True)
    try:
        call_id = await enqueue(redis, agent, number)
        record = await record_of(pg_pool, agent, call_id)
    finally:
        await proc.stop()
    assert record.status == status and record.variables["hangup_cause"] == cause
    assert record.answered_at is None
    assert proc.dispatcher is not None and proc.dispatcher.active == {}
    assert await redis.zcard("vocals:outbound:active:t1") == 0


# A callee refusing at once (over loopback Asterisk 22.10.1 took ~1 ms for a 486 or a 403)
# is gone before the originate's answer: its outcome comes from the endpoint's events.
@pytest.mark.parametrize(
    ("outcome", "status", "cause", "error"),
    [("busy", "busy", 17, None), ("rejected", "failed", 21, "not answered: cause 21")],
)
@pytest.mark.parametrize("ring_s", [0.0, 0.05], ids=["at-once", "after-ringing-briefly"])
async def test_refused_calls_are_recorded_as_refused(
    fake: FakeAsterisk,
    pg_pool: asyncpg.Pool,
    redis: Redis,
    outcome: str,
    status: str,
    cause: int,
    error: str | None,
    ring_s: float,
) -> None:
    agent = await make_agent(pg_pool)
    number = f"1555125{cause:02d}{int(ring_s * 100):02d}"
    fake.callees[number] = Callee(outcome=outcome, ring_s=ring_s)  # type: ignore[arg-type]
    proc = Process(fake, pg_pool, redis, app=f"vocals-refused-{outcome}-{ring_s}")
    await proc.start(dispatch=True)
    try:
        call_id = await enqueue(redis, agent, number)
        record = await record_of(pg_pool, agent, call_id)
    finally:
        await proc.stop()
    assert (record.status, record.error_reason) == (status, error)
    assert record.variables["hangup_cause"] == cause


async def test_two_processes_share_the_queue_without_double_dialling(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis, redis_url: str
) -> None:
    agent = await make_agent(pg_pool)
    cps = 5.0
    trunk = TrunkRoute(name=f"pace-{uuid.uuid4().hex[:6]}", endpoint="trunk1", cps=cps, max_calls=6)
    fake.default_callee = Callee(amd_status="HUMAN", hangup_after_s=0.3)
    other_redis = Redis.from_url(redis_url)
    procs = [
        Process(fake, pg_pool, redis, app="vocals-p1", trunk=trunk, welcome="Hi."),
        Process(fake, pg_pool, other_redis, app="vocals-p2", trunk=trunk, welcome="Hi."),
    ]
    ids = {await enqueue(redis, agent, f"1555200{i:04d}") for i in range(20)}
    try:
        for proc in procs:
            await proc.start(dispatch=True)
        repo = CallRepository(pg_pool)

        async def all_recorded() -> None:
            for _ in range(300):
                if (await repo.list_page(agent.tenant_id, limit=50)).total == 20:
                    return
                await asyncio.sleep(0.1)

        await all_recorded()
        await eventually(lambda: not fake.live_channels() and not fake.live_bridges())
    finally:
        for proc in procs:
            await proc.stop()
        await other_redis.aclose()
    posts = [c for c in fake.rest_log if c.method == "POST" and ORIGINATE_PATH.match(c.path)]
    dialled = [c.path.rsplit("/", 1)[1] for c in posts]
    assert sorted(dialled) == sorted(str(i) for i in ids)  # each call exactly once
    assert all(p.dispatcher is not None and p.dispatcher.dialled > 0 for p in procs)
    times = sorted(c.t for c in posts)
    # Slots are 200 ms apart across both processes. A stalled event loop (both processes and
    # the fake share one here) can delay one request onto the next, never raise the rate: no
    # second holds more than one request over the trunk's CPS, and the whole run takes as
    # long as its slots.
    busiest = max(sum(1 for u in times if t <= u < t + 1.0) for t in times)
    assert busiest <= cps + 1, times
    assert (times[-1] - times[0]) >= (len(times) - 1) / cps * 0.95
    assert fake.peak_channels <= 2 * trunk.max_calls + 2
    records = (await CallRepository(pg_pool).list_page(agent.tenant_id, limit=50)).items
    assert {r.status for r in records} == {"completed"}


async def test_a_long_pacing_wait_never_lets_another_process_dial_the_same_call(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis, redis_url: str
) -> None:
    """At a low CPS a job waits for its slot longer than its claim lasts; the claim is
    renewed first, so the other process cannot take the job back and dial it too."""
    agent = await make_agent(pg_pool)
    trunk = TrunkRoute(name=f"slow-{uuid.uuid4().hex[:6]}", endpoint="trunk1", cps=1.0)
    fake.default_callee = Callee(amd_status="HUMAN", hangup_after_s=0.2)
    other_redis = Redis.from_url(redis_url)
    procs = [
        Process(
            fake, pg_pool, r, app=f"vocals-slow{i}", trunk=trunk, welcome="Hi.", claim_lease_s=0.5
        )
        for i, r in enumerate((redis, other_redis))
    ]
    # The second call waits a second for its slot, twice its claim: the idle process would
    # take it back and dial it too.
    ids = {await enqueue(redis, agent, f"1555300{i:04d}") for i in range(2)}
    try:
        for proc in procs:
            await proc.start(dispatch=True)
        repo = CallRepository(pg_pool)
        for _ in range(150):
            if (await repo.list_page(agent.tenant_id, limit=10)).total == len(ids):
                break
            await asyncio.sleep(0.05)
        # Long enough for a process that took back an expired claim to reach its own slot.
        await asyncio.sleep(len(ids) / trunk.cps)
        await eventually(lambda: not fake.live_channels())
    finally:
        for proc in procs:
            await proc.stop()
        await other_redis.aclose()
    posts = [c for c in fake.rest_log if c.method == "POST" and ORIGINATE_PATH.match(c.path)]
    assert sorted(c.path.rsplit("/", 1)[1] for c in posts) == sorted(str(i) for i in ids)


async def test_stopping_during_a_pacing_wait_leaves_the_call_to_be_dialled_later(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    agent = await make_agent(pg_pool)
    trunk = TrunkRoute(name=f"stop-{uuid.uuid4().hex[:6]}", endpoint="trunk1", cps=0.2)
    fake.default_callee = Callee(amd_status="HUMAN", hangup_after_s=0.2)
    ids = [await enqueue(redis, agent, f"1555310{i:04d}") for i in range(2)]
    proc = Process(fake, pg_pool, redis, app="vocals-stop", trunk=trunk, welcome="Hi.")
    await proc.start(dispatch=True)

    def dialled() -> list[str]:
        posts = [c for c in fake.rest_log if c.method == "POST" and ORIGINATE_PATH.match(c.path)]
        return [c.path.rsplit("/", 1)[1] for c in posts]

    try:
        await eventually(lambda: len(dialled()) == 1)
        await asyncio.sleep(0.3)  # the other call waits five seconds for its slot
    finally:
        await proc.stop()
    [waiting] = [i for i in ids if str(i) not in dialled()]
    assert await CallRepository(pg_pool).get(agent.tenant_id, waiting) is None
    assert await redis.zscore(LEASED_KEY, str(waiting)) is not None  # comes back when it ends
    assert proc.controller is not None and proc.controller.sessions == []


async def test_a_mailbox_amd_took_for_a_person_is_heard_in_the_transcript(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    """AMD guesses wrong on short greetings; the agent's own check of what the callee said
    (outbound calls only) then ends the call as voicemail instead of talking to a machine."""
    agent = await make_agent(pg_pool)
    fake.callees["15551230009"] = Callee(amd_status="HUMAN", amd_cause="HUMAN-803-800")
    greeting = (
        "Hi, you've reached Sam. I can't take your call, please leave a message after the tone."
    )
    proc = Process(fake, pg_pool, redis, app="vocals-out9", stt_script=[greeting])
    await proc.start(dispatch=True)
    try:
        call_id = await enqueue(redis, agent, "15551230009")
        callee = await asyncio.wait_for(fake.answered.get(), 10)
        await callee.wait_received(1000)  # the agent's welcome
        callee.play(speechlike(8000, [(True, 1500), (False, 800)]))
        record = await record_of(pg_pool, agent, call_id)
    finally:
        await proc.stop()
    assert (record.direction, record.outcome) == ("outbound", "voicemail")
    assert proc.llms and proc.llms[0].requests == []  # no reply was made to the mailbox
