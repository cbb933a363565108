"""Admission control at Twilio's voice webhook: a call beyond the process's capacity gets
`<Reject reason="busy"/>`, is recorded as failed and announced; a freed slot takes calls."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from redis.asyncio import Redis

from ari_app.admission import OVER_CAPACITY, WARMING_UP, Admission
from store.repositories.calls import CallRepository
from tests.fakes.twilio import FakeTwilio
from tests.twilio.harness import TwilioProcess, make_twilio_agent
from tests.twilio.util import eventually, quiet
from twilio_adapter import routes

BUSY = '<Reject reason="busy"/>'


async def test_a_call_beyond_capacity_is_rejected_busy_with_record_and_event(
    fake: FakeTwilio, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    admission = Admission(1)
    proc = TwilioProcess(fake, pg_pool, redis, admission=admission)
    await proc.start()
    try:
        agent = await make_twilio_agent(pg_pool, proc.box, fake)
        live = await fake.inbound_call(proc.voice_url, from_="+15557654321", to=agent.did)
        await asyncio.wait_for(live.stream_ready.wait(), 5)
        assert live.stream is not None

        refused = await fake.inbound_call(proc.voice_url, from_="+15557650000", to=agent.did)
        await asyncio.wait_for(refused.done.wait(), 5)
        assert BUSY in refused.twiml and refused.stream is None
        assert admission.refused == {"calls": 1}
        await quiet(live.stream)  # the live call goes on: its welcome played out
        assert not live.done.is_set()

        await live.stream.hang_up()
        await eventually(lambda: admission.live == 0)
        again = await fake.inbound_call(proc.voice_url, from_="+15557650000", to=agent.did)
        await asyncio.wait_for(again.stream_ready.wait(), 5)
        assert again.stream is not None and BUSY not in again.twiml
        await again.stream.hang_up()
        await eventually(lambda: admission.live == 0)
    finally:
        await proc.stop()
    records = (await CallRepository(pg_pool).list_page(agent.tenant_id)).items
    [record] = [r for r in records if r.status == "failed"]
    assert (record.from_number, record.error_reason, record.transport) == (
        "+15557650000", OVER_CAPACITY, "twilio",
    )  # fmt: skip
    assert proc.events.types(record.id) == ["call.failed"]


async def test_a_call_while_the_local_models_load_waits_for_them(
    fake: FakeTwilio, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    """Twilio's webhook is answered once the models are loaded, not before."""
    admission = Admission(4)
    admission.warming_up()
    proc = TwilioProcess(fake, pg_pool, redis, admission=admission)
    await proc.start()
    try:
        agent = await make_twilio_agent(pg_pool, proc.box, fake)
        call = await fake.inbound_call(proc.voice_url, from_="+15557654321", to=agent.did)
        await asyncio.sleep(0.5)
        assert call.twiml == "" and call.stream is None  # still asking the webhook
        admission.warmed()
        await asyncio.wait_for(call.stream_ready.wait(), 5)
        assert call.stream is not None and BUSY not in call.twiml
        await call.stream.hang_up()
        await eventually(lambda: admission.live == 0)
    finally:
        await proc.stop()


async def test_a_call_the_warm_up_outlasts_is_rejected_busy(
    fake: FakeTwilio, pg_pool: asyncpg.Pool, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes, "WARM_WAIT_S", 0.2)
    admission = Admission(4)
    admission.warming_up()
    proc = TwilioProcess(fake, pg_pool, redis, admission=admission)
    await proc.start()
    try:
        agent = await make_twilio_agent(pg_pool, proc.box, fake)
        refused = await fake.inbound_call(proc.voice_url, from_="+15557650000", to=agent.did)
        await asyncio.wait_for(refused.done.wait(), 5)
        assert BUSY in refused.twiml and refused.stream is None
        assert admission.refused == {"warming": 1}
    finally:
        await proc.stop()
    [record] = (await CallRepository(pg_pool).list_page(agent.tenant_id)).items
    assert (record.status, record.error_reason) == ("failed", WARMING_UP)
    assert proc.events.types(record.id) == ["call.failed"]
