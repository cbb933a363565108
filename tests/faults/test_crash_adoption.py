"""`kill -9` with live calls loses nothing: a real `vocals serve` holding calls on the Asterisk
simulator is killed, another process starts, and it writes every call's record (failed,
process lost) with its recording, announces `call.ended` and hangs up what was left of the
call in Asterisk. Each process has its own Stasis app, so only adoption, not the survivor's
own reconciliation, can release the dead process's calls."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from store.live_calls import LiveCallStore
from store.repositories.twilio import TwilioAccountRepository
from store.secrets import SecretBox
from tests.api.webhook_receiver import WebhookReceiver
from tests.fakes.twilio import FakeTwilio
from tests.faults.serve_on_simulator import (
    CALL_UP_S,
    SECRET_KEY,
    Scene,
    Server,
    scene,
    until,
)

CALLS: Final = 4
ADOPTED_WITHIN_S: Final = 30.0
ADOPTED_EVENT: Final = "adopted a call of a dead process"


@pytest.fixture
async def crash(
    tmp_path: Path, pg_pool: asyncpg.Pool, database_url: str, redis_url: str
) -> AsyncIterator[Scene]:
    async with scene(tmp_path, pg_pool, database_url, redis_url, recording=True) as built:
        yield built


async def _records(pool: asyncpg.Pool, scene: Scene) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT id, status, error_reason, recording_path FROM calls WHERE tenant_id = $1",
        scene.tenant_id,
    )


def _ended_events(receiver: WebhookReceiver) -> dict[str, int]:
    """How many `call.ended` deliveries arrived per call id."""
    counts: dict[str, int] = {}
    for request in receiver.received:
        envelope: dict[str, Any] = json.loads(request.body)
        if envelope["type"] == "call.ended":
            call_id = envelope["data"]["call_id"]
            counts[call_id] = counts.get(call_id, 0) + 1
    return counts


def _adoptions(servers: list[Server], call_ids: set[str]) -> list[str]:
    """The calls among `call_ids` each server says it adopted, all servers together."""
    return [
        entry["call_id"]
        for server in servers
        for entry in server.log_events(ADOPTED_EVENT)
        if entry.get("call_id") in call_ids
    ]


async def _crash_with_live_calls(
    scene: Scene, redis: Redis, pool: asyncpg.Pool, *, survivors: tuple[str, ...] = ()
) -> tuple[set[str], list[Server]]:
    """A server with `CALLS` live, recorded calls, killed with SIGKILL, and the `survivors`
    started alongside it; returns the call ids and the survivors."""
    doomed, *running = await asyncio.gather(*map(scene.serve, ("vocals-doomed", *survivors)))
    await scene.place_calls("vocals-doomed", CALLS)
    live = {str(c) for c in await LiveCallStore(redis).live_call_ids(scene.tenant_id)}
    assert len(live) == CALLS
    spool = scene.tmp / "recordings" / ".spool" / str(scene.tenant_id)

    async def spooled() -> bool:
        return {p.stem for p in spool.glob("*.wav") if p.stat().st_size > 44} == live

    await until(spooled, CALL_UP_S, "every call's recording in the spool")
    doomed.process.send_signal(signal.SIGKILL)
    await doomed.process.wait()
    assert await _records(pool, scene) == []
    return live, running


async def _assert_adopted(
    scene: Scene, redis: Redis, pool: asyncpg.Pool, call_ids: set[str], started: float
) -> float:
    """Every call finished by a survivor; returns seconds from `started` to all records."""

    async def all_written() -> bool:
        return len(await _records(pool, scene)) == CALLS

    await until(all_written, ADOPTED_WITHIN_S, "the adopted calls' records")
    took = time.monotonic() - started
    records = await _records(pool, scene)
    assert {str(r["id"]) for r in records} == call_ids
    assert {(r["status"], r["error_reason"]) for r in records} == {("failed", "process lost")}
    for record in records:
        assert record["recording_path"] is not None
        assert (scene.tmp / "recordings" / record["recording_path"]).stat().st_size > 0
    assert await LiveCallStore(redis).live_call_ids(scene.tenant_id) == []
    assert scene.sim.live_channels() == 0 and scene.sim.live_bridges() == 0

    async def announced() -> bool:
        return set(_ended_events(scene.receiver)) == call_ids

    await until(announced, ADOPTED_WITHIN_S, "call.ended of every adopted call")
    return took


async def test_a_killed_process_calls_are_finished_by_the_next_one(
    crash: Scene, redis: Redis, pg_pool: asyncpg.Pool
) -> None:
    call_ids, _ = await _crash_with_live_calls(crash, redis, pg_pool)
    started = time.monotonic()
    survivor = await crash.serve("vocals-survivor")
    took = await _assert_adopted(crash, redis, pg_pool, call_ids, started)
    assert sorted(_adoptions([survivor], call_ids)) == sorted(call_ids)
    assert await survivor.metric("vocals_calls_adopted_total") >= CALLS
    print(f"\n{CALLS} calls adopted {took:.2f} s after the survivor started")


async def test_two_running_survivors_adopt_each_call_once(
    crash: Scene, redis: Redis, pg_pool: asyncpg.Pool
) -> None:
    """Both survivors are up when the lease lapses, so both find the dead process's calls."""
    call_ids, survivors = await _crash_with_live_calls(
        crash, redis, pg_pool, survivors=("vocals-left", "vocals-right")
    )
    await _assert_adopted(crash, redis, pg_pool, call_ids, time.monotonic())
    assert sorted(_adoptions(survivors, call_ids)) == sorted(call_ids)
    assert set(_ended_events(crash.receiver).values()) == {1}


async def test_a_killed_process_twilio_calls_are_finished_by_the_next_one(
    crash: Scene, redis: Redis, pg_pool: asyncpg.Pool
) -> None:
    """The process serving a Twilio call's stream holds the call: killed, a survivor writes
    its record, as a Twilio call, and announces its end."""
    accounts = TwilioAccountRepository(pg_pool, SecretBox(SECRET_KEY))
    twilio = FakeTwilio()
    await accounts.create(crash.tenant_id, {"account_sid": twilio.account_sid,
                                            "auth_token": twilio.auth_token})  # fmt: skip
    await accounts.set_number_provider(crash.tenant_id, crash.did, "twilio")
    await twilio.start()
    try:
        doomed = await crash.serve("vocals-doomed")
        await until(lambda: serving(doomed), CALL_UP_S, "the server's HTTP")
        voice_url = f"{doomed.http_url}/twilio/voice"
        calls = [await twilio.inbound_call(voice_url, from_="+15550107777", to=crash.did)
                 for _ in range(2)]  # fmt: skip

        async def streaming() -> bool:
            live = await LiveCallStore(redis).live_call_ids(crash.tenant_id)
            return len(live) == len(calls) and all(c.stream_ready.is_set() for c in calls)

        await until(streaming, CALL_UP_S, "both Twilio streams")
        live = {str(c) for c in await LiveCallStore(redis).live_call_ids(crash.tenant_id)}
        doomed.process.send_signal(signal.SIGKILL)
        await doomed.process.wait()
        assert await _records(pg_pool, crash) == []

        survivor = await crash.serve("vocals-survivor")

        async def all_written() -> bool:
            return len(await _records(pg_pool, crash)) == len(calls)

        await until(all_written, ADOPTED_WITHIN_S, "the adopted Twilio calls' records")
        rows = await pg_pool.fetch(
            "SELECT id, status, error_reason, transport FROM calls WHERE tenant_id = $1",
            crash.tenant_id,
        )
        assert {str(r["id"]) for r in rows} == live
        assert {(r["status"], r["error_reason"], r["transport"]) for r in rows} == {
            ("failed", "process lost", "twilio")
        }
        assert sorted(_adoptions([survivor], live)) == sorted(live)
        assert await LiveCallStore(redis).live_call_ids(crash.tenant_id) == []

        async def announced() -> bool:
            return set(_ended_events(crash.receiver)) == live

        await until(announced, ADOPTED_WITHIN_S, "call.ended of every adopted Twilio call")
        # The dead process's streams closed, so Twilio ended the calls itself.
        assert all(c.done.is_set() for c in calls)
    finally:
        await twilio.stop()


async def serving(server: Server) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            return (await client.get(f"{server.http_url}/healthz")).status_code == 200
    except httpx.HTTPError:
        return False
