"""Bad input: unsigned or mis-signed webhooks are 403 and create nothing; a stream without a
valid token is closed with 1008; malformed JSON, bad base64 and oversized messages close that
stream only, while another call goes on."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid

import asyncpg
import pytest
from redis.asyncio import Redis

from store.live_calls import LiveCallStore
from store.models import CallRecord
from store.repositories.calls import CallRepository
from store.secrets import SecretBox
from tests.fakes.twilio import FakeTwilio, MediaStreamCaller, twilio_signature
from tests.pipeline.memory_leg import silence_pcm, speech_pcm
from tests.twilio.harness import Tenancy, TwilioProcess, make_twilio_agent
from tests.twilio.util import eventually, post_signed, quiet, record_of, stream_of, voice_params
from twilio_adapter.token import StreamClaims, StreamTokens


async def _twilio_keys(redis: Redis) -> int:
    return len([k async for k in redis.scan_iter("vocals:twilio:*")])


async def _nothing_created(pool: asyncpg.Pool, redis: Redis, agent: Tenancy, keys: int) -> None:
    assert (await CallRepository(pool).list_page(agent.tenant_id)).items == []
    assert await LiveCallStore(redis).live_call_ids(agent.tenant_id) == []
    assert await _twilio_keys(redis) == keys


@pytest.mark.parametrize("signature", [None, "", "bm90IHRoZSBzaWduYXR1cmU=", "wrong-url"])
async def test_unsigned_or_mis_signed_voice_webhook_is_403(
    fake: FakeTwilio, proc: TwilioProcess, pg_pool: asyncpg.Pool, redis: Redis,
    signature: str | None,
) -> None:  # fmt: skip
    agent = await make_twilio_agent(pg_pool, proc.box, fake)
    keys = await _twilio_keys(redis)
    params = voice_params(fake, to=agent.did)
    if signature == "wrong-url":
        signature = twilio_signature(fake.auth_token, "http://elsewhere.example/twilio/voice",
                                     params)  # fmt: skip
    response = await post_signed(proc.voice_url, params, fake.auth_token, signature)
    assert response.status_code == 403
    await _nothing_created(pg_pool, redis, agent, keys)


async def test_webhook_signed_with_another_token_or_unknown_account_is_403(
    fake: FakeTwilio, proc: TwilioProcess, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    agent = await make_twilio_agent(pg_pool, proc.box, fake)
    keys = await _twilio_keys(redis)
    params = voice_params(fake, to=agent.did)
    response = await post_signed(proc.voice_url, params, "another-accounts-token")
    assert response.status_code == 403
    unknown = [(n, "AC" + "f" * 32 if n == "AccountSid" else v) for n, v in params]
    response = await post_signed(proc.voice_url, unknown, fake.auth_token)
    assert response.status_code == 403
    tampered = [(n, "+15550009999" if n == "From" else v) for n, v in params]
    good_signature = twilio_signature(fake.auth_token, proc.voice_url, params)
    response = await post_signed(proc.voice_url, tampered, fake.auth_token, good_signature)
    assert response.status_code == 403
    await _nothing_created(pg_pool, redis, agent, keys)


async def test_mis_signed_status_callback_changes_nothing(
    fake: FakeTwilio, proc: TwilioProcess, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    assert proc.outbound is not None
    agent = await make_twilio_agent(pg_pool, proc.box, fake)
    keys = await _twilio_keys(redis)
    call_id = uuid.uuid4()
    url = f"{proc.public_url}/twilio/status?call_id={call_id}"
    params = [("CallSid", "CA" + "1" * 32), ("AccountSid", fake.account_sid),
              ("CallStatus", "busy")]  # fmt: skip
    response = await post_signed(url, params, fake.auth_token, "forged")
    assert response.status_code == 403
    response = await post_signed(url, [*params, ("AnsweredBy", "human")], fake.auth_token, None)
    assert response.status_code == 403
    await _nothing_created(pg_pool, redis, agent, keys)


async def _stream_for(
    proc: TwilioProcess, fake: FakeTwilio, agent: Tenancy, *, call_sid: str | None = None
) -> tuple[str, dict[str, str], str]:
    """A real TwiML answer's stream URL, parameters and CallSid."""
    sid = call_sid or "CA" + uuid.uuid4().hex
    response = await post_signed(proc.voice_url, voice_params(fake, to=agent.did, call_sid=sid),
                                 fake.auth_token)  # fmt: skip
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/xml")
    url, params = stream_of(response.text)
    return url, params, sid


def _caller(url: str, fake: FakeTwilio, sid: str, params: dict[str, str]) -> MediaStreamCaller:
    return MediaStreamCaller(url, call_sid=sid, account_sid=fake.account_sid,
                             stream_sid="MZ" + uuid.uuid4().hex, parameters=params)  # fmt: skip


async def test_streams_without_a_valid_token_are_closed_with_1008(
    fake: FakeTwilio, proc: TwilioProcess, pg_pool: asyncpg.Pool
) -> None:
    agent = await make_twilio_agent(pg_pool, proc.box, fake)
    url, params, sid = await _stream_for(proc, fake, agent)
    forged_claims = StreamClaims(
        tenant_id=agent.tenant_id,
        call_id=uuid.uuid4(),
        agent_id=agent.agent_id,
        call_sid=sid,
        direction="inbound",
    )
    foreign = StreamTokens(SecretBox("an-attackers-own-key-0123456789abcdef")).issue(forged_claims)
    expired = StreamTokens(proc.box).issue(forged_claims, now=time.time() - 3600)
    cases = {
        "expired token": {"token": expired},
        "no token": {},
        "empty token": {"token": ""},
        "forged token": {"token": foreign},
        "garbage token": {"token": "x" * 80},
    }
    for name, parameters in cases.items():
        caller = _caller(url, fake, sid, parameters)
        await caller.connect()
        await caller.wait_closed()
        assert caller.log.close_code == 1008, name
        assert caller.log.media_bytes == 0, name
    other_call = _caller(url, fake, "CA" + uuid.uuid4().hex, params)  # token of another call
    await other_call.connect()
    await other_call.wait_closed()
    assert other_call.log.close_code == 1008
    no_start = _caller(url, fake, sid, params)
    await no_start.connect(send_start=False)
    await no_start.send_raw(json.dumps({"event": "media", "streamSid": no_start.stream_sid,
                                        "media": {"payload": ""}}))  # fmt: skip
    await no_start.wait_closed()
    assert no_start.log.close_code == 1008
    assert (await CallRepository(pg_pool).list_page(agent.tenant_id)).items == []


async def test_a_token_opens_one_stream_only(
    fake: FakeTwilio, proc: TwilioProcess, pg_pool: asyncpg.Pool
) -> None:
    agent = await make_twilio_agent(pg_pool, proc.box, fake)
    url, params, sid = await _stream_for(proc, fake, agent)
    first = _caller(url, fake, sid, params)
    await first.connect()
    await eventually(lambda: first.log.media_bytes > 0)
    replay = _caller(url, fake, sid, params)
    await replay.connect()
    await replay.wait_closed()
    assert replay.log.close_code == 1008 and replay.log.media_bytes == 0
    assert not first.closed.is_set()
    await first.hang_up()
    assert (await record_of(pg_pool, agent.tenant_id)).status == "completed"


BAD_MESSAGES: dict[str, str | bytes] = {
    "malformed JSON": "{this is not json",
    "bad base64": json.dumps({"event": "media", "sequenceNumber": "9", "streamSid": "MZ",
                              "media": {"track": "inbound", "chunk": "1", "timestamp": "0",
                                        "payload": "%%%not-base64%%%"}}),
    "oversized message": json.dumps({"event": "mark", "streamSid": "MZ",
                                     "mark": {"name": "x" * 40_000}}),
    "oversized payload": json.dumps({"event": "media", "streamSid": "MZ", "media": {
        "payload": base64.b64encode(bytes(9000)).decode()}}),
    "media without payload": json.dumps({"event": "media", "streamSid": "MZ", "media": {}}),
    "binary frame": b"\x00\x01\x02",
}  # fmt: skip


@pytest.mark.parametrize("bad", list(BAD_MESSAGES))
async def test_bad_message_closes_only_its_stream(
    fake: FakeTwilio, proc: TwilioProcess, pg_pool: asyncpg.Pool, redis: Redis, bad: str
) -> None:
    agent = await make_twilio_agent(pg_pool, proc.box, fake)
    healthy = await fake.inbound_call(proc.voice_url, from_="+15557654321", to=agent.did)
    await asyncio.wait_for(healthy.stream_ready.wait(), 5)
    assert healthy.stream is not None
    url, params, sid = await _stream_for(proc, fake, agent)
    broken = _caller(url, fake, sid, params)
    await broken.connect()
    await eventually(lambda: broken.log.media_bytes > 0)
    await broken.send_raw(BAD_MESSAGES[bad])
    await broken.wait_closed()
    assert broken.log.close_code == 1008
    # The other call goes on: it finishes its welcome and holds a conversation.
    await quiet(healthy.stream)
    healthy.stream.say(speech_pcm(800) + silence_pcm(700))
    await eventually(lambda: len(proc.llms) == 2 and any(llm.requests for llm in proc.llms))
    await healthy.stream.hang_up()
    records = await _records(pg_pool, agent, 2)
    assert sorted(r.status for r in records) == ["completed", "completed"]
    assert not healthy.stream.log.errors


async def _records(pool: asyncpg.Pool, agent: Tenancy, n: int) -> list[CallRecord]:
    repo = CallRepository(pool)
    for _ in range(200):
        page = await repo.list_page(agent.tenant_id)
        if len(page.items) == n:
            return page.items
        await asyncio.sleep(0.05)
    raise TimeoutError(f"expected {n} records")
