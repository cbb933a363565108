"""Queued outbound calls of agents on Twilio numbers: `POST /api/v1/calls` -> the Redis queue
-> the dispatcher's Twilio carrier -> Twilio's Calls API (the fake) -> the conversation. A
process without Asterisk records other agents' calls as failed, saying why."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from redis.asyncio import Redis

from api.app import create_app
from api.context import ApiContext, ApiSettings
from ari_app.outbound import OutboundDispatcher, TrunkRoute, Undialable
from ari_app.ports import OutboundCarrier
from ari_app.store_adapters import StoreCallLedger
from store.call_records import CallRecordWriter
from store.live_calls import LiveCallStore
from store.models import CallRecord
from store.outbound_queue import OutboundJob, OutboundQueue
from store.repositories.calls import CallRepository
from store.repositories.config import ApiKeyRepository
from store.secrets import generate_api_key
from tests.api.conftest import bearer, client_for
from tests.fakes.twilio import Callee, FakeTwilio
from tests.pipeline.memory_leg import silence_pcm, speech_pcm
from tests.twilio.harness import Tenancy, TwilioProcess, make_twilio_agent
from tests.twilio.util import eventually, quiet

pytestmark = pytest.mark.usefixtures("empty_outbound_queue")

CALLEE = "+15550002222"
NO_ASTERISK = "no Asterisk is configured to dial this number"


async def no_trunk(job: OutboundJob) -> TrunkRoute | None:
    raise AssertionError("a process without Asterisk never looks for a trunk")


@pytest.fixture
async def dispatcher(
    proc: TwilioProcess, pg_pool: asyncpg.Pool, redis: Redis
) -> AsyncIterator[OutboundDispatcher]:
    """The dispatcher of a process without Asterisk: Twilio, else a failed record."""
    assert proc.outbound is not None
    ledger = StoreCallLedger(LiveCallStore(redis), CallRecordWriter(pg_pool, redis))
    carriers: list[OutboundCarrier] = [proc.outbound, Undialable(ledger, proc.events, NO_ASTERISK)]
    running = OutboundDispatcher(OutboundQueue(redis), None, no_trunk, carriers=carriers,
                                 poll_s=0.02)  # fmt: skip
    running.start()
    yield running
    await running.stop()


async def originate(
    pool: asyncpg.Pool, redis: Redis, proc: TwilioProcess, agent: Tenancy
) -> uuid.UUID:
    """`POST /api/v1/calls` with an API key of the agent's tenant."""
    new = generate_api_key()
    await ApiKeyRepository(pool).create(
        agent.tenant_id, {"name": "dialler", "prefix": new.prefix, "key_hash": new.key_hash}
    )
    app = create_app(ApiContext(pool=pool, redis=redis, box=proc.box,
                                settings=ApiSettings(ui_dist=None)))  # fmt: skip
    async with client_for(app) as client:
        response = await client.post(
            "/api/v1/calls",
            json={"agent_id": str(agent.agent_id), "to": CALLEE, "variables": {"order": "42"}},
            headers=bearer(new.key),
        )
    assert response.status_code == 202, response.text
    return uuid.UUID(response.json()["id"])


async def final_record(pool: asyncpg.Pool, agent: Tenancy, call_id: uuid.UUID) -> CallRecord:
    repo = CallRepository(pool)
    for _ in range(200):
        record = await repo.get(agent.tenant_id, call_id)
        if record is not None and record.status not in ("queued", "dialing", "answered"):
            return record
        await asyncio.sleep(0.05)
    raise TimeoutError("the call never reached a final status")


async def test_api_call_of_a_twilio_agent_is_placed_through_twilio(
    fake: FakeTwilio,
    proc: TwilioProcess,
    dispatcher: OutboundDispatcher,
    pg_pool: asyncpg.Pool,
    redis: Redis,
) -> None:
    agent = await make_twilio_agent(pg_pool, proc.box, fake)
    fake.callees[CALLEE] = Callee("human", amd_delay_s=0.2)
    call_id = await originate(pg_pool, redis, proc, agent)
    await eventually(lambda: bool(fake.calls))
    [placed] = fake.calls.values()
    _, form = fake.api_requests[0]
    assert form["From"] == [agent.did] and form["To"] == [CALLEE]
    assert str(call_id) in form["Url"][0]
    await asyncio.wait_for(placed.stream_ready.wait(), 5)
    stream = placed.stream
    assert stream is not None
    await quiet(stream)  # the welcome
    stream.say(speech_pcm(800) + silence_pcm(700))
    await eventually(lambda: len(proc.llms[0].requests) == 1)
    await quiet(stream)
    await stream.hang_up()
    record = await final_record(pg_pool, agent, call_id)
    assert (record.direction, record.status, record.transport) == (
        "outbound", "completed", "twilio",
    )  # fmt: skip
    assert record.variables["order"] == "42"
    assert ("caller", "I would like a table") in [(t["role"], t["text"]) for t in record.transcript]
    assert await OutboundQueue(redis).depth() == {"due": 0, "leased": 0}
    assert proc.events.types(call_id) == ["call.started", "call.answered", "call.ended"]


async def test_without_asterisk_an_agent_off_twilio_gets_a_failed_call_saying_why(
    fake: FakeTwilio,
    proc: TwilioProcess,
    dispatcher: OutboundDispatcher,
    pg_pool: asyncpg.Pool,
    redis: Redis,
) -> None:
    agent = await make_twilio_agent(pg_pool, proc.box, fake, provider="asterisk")
    call_id = await originate(pg_pool, redis, proc, agent)
    record = await final_record(pg_pool, agent, call_id)
    assert (record.status, record.error_reason) == ("failed", NO_ASTERISK)
    assert fake.api_requests == []
    assert await OutboundQueue(redis).depth() == {"due": 0, "leased": 0}
    assert proc.events.types(call_id) == ["call.failed"]
