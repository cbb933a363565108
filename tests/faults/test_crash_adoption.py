"""`kill -9` with live calls loses nothing: a real `vocals serve` holding calls on the Asterisk
simulator is killed, another process starts, and it writes every call's record (failed,
process lost) with its recording, announces `call.ended` and hangs up what was left of the
call in Asterisk. Each process has its own Stasis app (as DESIGN.md's Scale section says), so
only adoption, not the survivor's own reconciliation, can release the dead process's calls."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from store.live_calls import LiveCallStore
from store.repositories.config import AgentRepository, InboundRouteRepository, WebhookRepository
from store.repositories.tenants import TenantsRepository
from store.secrets import SecretBox
from tests.api.webhook_receiver import WebhookReceiver
from tests.conftest import REPO_ROOT
from vocals.loadtest.agent import agent_values
from vocals.loadtest.config import LoadTestConfig
from vocals.net import free_port
from vocals.simulator import AsteriskSimulator, SimulatedCall

CALLS: Final = 4
# VOCALS_PROCESS_LEASE_S of the test's servers: a killed one is taken for dead this soon.
LEASE_S: Final = 2.0
SECRET_KEY: Final = "crash-adoption-test-secret-key-0123456789"
ARI_PASSWORD: Final = "crash-adoption-ari-password"
# Bounds of each wait: a server start (models load), a call's set-up, the adoption.
SERVER_START_S: Final = 60.0
CALL_UP_S: Final = 30.0
ADOPTED_WITHIN_S: Final = 30.0
# Each caller has heard this much of the greeting, so its recording holds audio.
HEARD_BYTES: Final = 8000 * 2  # one second of slin 8 kHz
POLL_S: Final = 0.1


@dataclass
class Server:
    process: asyncio.subprocess.Process
    http_url: str
    log: Path


@dataclass
class Scene:
    sim: AsteriskSimulator
    receiver: WebhookReceiver
    tenant_id: uuid.UUID
    did: str
    tmp: Path
    database_url: str
    redis_url: str
    servers: list[Server] = field(default_factory=list)

    def env(self, app: str) -> dict[str, str]:
        http = free_port()
        rtp = max(free_port(socket.SOCK_DGRAM) & ~1, 20000)
        env = {k: v for k, v in os.environ.items() if not k.startswith("VOCALS_")}
        env.update(
            VOCALS_DATABASE_URL=self.database_url,
            VOCALS_REDIS_URL=self.redis_url,
            VOCALS_HTTP_PORT=str(http),
            VOCALS_PUBLIC_URL=f"http://127.0.0.1:{http}",
            VOCALS_AUDIOSOCKET_PORT=str(free_port()),
            VOCALS_AUDIOSOCKET_HEALTH_PORT=str(free_port()),
            VOCALS_RTP_PORTS=f"{rtp}-{rtp + 200}",
            VOCALS_ARI_URL=self.sim.ari_url,
            VOCALS_ARI_USER="vocals",
            VOCALS_ARI_PASSWORD=ARI_PASSWORD,
            VOCALS_ARI_APP=app,
            VOCALS_RECORDINGS_DIR=str(self.tmp / "recordings"),
            VOCALS_DATA_DIR=str(REPO_ROOT / ".vocals" / "test"),
            VOCALS_SECRET_KEY=SECRET_KEY,
            VOCALS_PROCESS_LEASE_S=str(LEASE_S),
            VOCALS_LOADTEST_PROVIDERS="1",
            VOCALS_LOG_LEVEL="info",
            VOCALS_LOG_FORMAT="console",
        )
        return env

    async def serve(self, app: str) -> Server:
        """`vocals serve` with its own Stasis app, once its events socket is connected."""
        env = self.env(app)
        log = self.tmp / f"{app}.log"
        with log.open("wb") as out:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "vocals", "serve", cwd=REPO_ROOT, env=env, stderr=out
            )
        server = Server(process, env["VOCALS_PUBLIC_URL"], log)
        self.servers.append(server)
        await self.sim.wait_for_app(app, timeout_s=SERVER_START_S)
        return server

    async def place_calls(self, app: str) -> list[SimulatedCall]:
        """`CALLS` callers, each answered, bridged and hearing the agent's greeting."""
        heard = [asyncio.Event() for _ in range(CALLS)]

        def ear(event: asyncio.Event) -> Callable[[bytes, float], None]:
            got = bytearray()

            def on_frame(pcm: bytes, at: float) -> None:
                if any(pcm):
                    got.extend(pcm)
                if len(got) >= HEARD_BYTES:
                    event.set()

            return on_frame

        calls = [self.sim.place_call(self.did, on_frame_received=ear(e), app=app) for e in heard]
        async with asyncio.timeout(CALL_UP_S):
            await asyncio.gather(*(e.wait() for e in heard))
        return calls


async def _until(check: Callable[[], Awaitable[bool]], within_s: float, what: str) -> None:
    """Poll an outside observation (a table, a directory) until it holds, boundedly."""
    deadline = time.monotonic() + within_s
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(POLL_S)


async def _stop(server: Server) -> None:
    if server.process.returncode is not None:
        return
    server.process.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(server.process.wait(), 30)
    except TimeoutError:
        server.process.kill()
        await server.process.wait()


@pytest.fixture
async def scene(
    tmp_path: Path, database_url: str, redis_url: str, pg_pool: asyncpg.Pool
) -> AsyncIterator[Scene]:
    sim = AsteriskSimulator(username="vocals", password=ARI_PASSWORD)
    receiver = WebhookReceiver()
    await sim.start()
    await receiver.start()
    tenants = TenantsRepository(pg_pool)
    tenant = await tenants.create(f"crash-{uuid.uuid4().hex[:8]}")
    await tenants.set_allow_private_webhooks(tenant.id, True)
    did = f"+1555{uuid.uuid4().int % 10**7:07d}"
    agent = await AgentRepository(pg_pool).create(
        tenant.id, {**agent_values(LoadTestConfig(did=did)), "recording_enabled": True}
    )
    assert agent is not None
    await InboundRouteRepository(pg_pool).replace_for_agent(tenant.id, agent.id, [did])
    await WebhookRepository(pg_pool, SecretBox(SECRET_KEY)).create(
        tenant.id,
        {"url": receiver.url, "events": ["call.ended", "call.failed"], "secret": "s" * 32},
    )
    scene = Scene(sim, receiver, tenant.id, did, tmp_path, database_url, redis_url)
    try:
        yield scene
    finally:
        await asyncio.gather(*(_stop(s) for s in scene.servers))
        await receiver.stop()
        await sim.stop()


async def _records(pool: asyncpg.Pool, tenant_id: uuid.UUID) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT id, status, error_reason, recording_path FROM calls WHERE tenant_id = $1",
        tenant_id,
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


async def _adopted(server: Server) -> int:
    """`vocals_calls_adopted_total` from the server's /metrics."""
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"{server.http_url}/metrics")).text
    lines = [line for line in text.splitlines() if line.startswith("vocals_calls_adopted_total")]
    return int(float(lines[0].split()[-1])) if lines else 0


async def _crash_with_live_calls(
    scene: Scene, redis: Redis, pool: asyncpg.Pool, *, survivors: tuple[str, ...] = ()
) -> tuple[set[str], list[Server]]:
    """A server with `CALLS` live, recorded calls, killed with SIGKILL, and the `survivors`
    started alongside it; returns the call ids and the survivors."""
    doomed, *running = await asyncio.gather(*map(scene.serve, ("vocals-doomed", *survivors)))
    await scene.place_calls("vocals-doomed")
    live = {str(c) for c in await LiveCallStore(redis).live_call_ids(scene.tenant_id)}
    assert len(live) == CALLS
    spool = scene.tmp / "recordings" / ".spool" / str(scene.tenant_id)

    async def spooled() -> bool:
        return {p.stem for p in spool.glob("*.wav") if p.stat().st_size > 44} == live

    await _until(spooled, CALL_UP_S, "every call's recording in the spool")
    doomed.process.send_signal(signal.SIGKILL)
    await doomed.process.wait()
    assert await _records(pool, scene.tenant_id) == []
    return live, running


async def _assert_adopted(
    scene: Scene, redis: Redis, pool: asyncpg.Pool, call_ids: set[str], started: float
) -> float:
    """Every call finished by a survivor; returns seconds from `started` to all records."""

    async def all_written() -> bool:
        return len(await _records(pool, scene.tenant_id)) == CALLS

    await _until(all_written, ADOPTED_WITHIN_S, "the adopted calls' records")
    took = time.monotonic() - started
    records = await _records(pool, scene.tenant_id)
    assert {str(r["id"]) for r in records} == call_ids
    assert {(r["status"], r["error_reason"]) for r in records} == {("failed", "process lost")}
    for record in records:
        assert record["recording_path"] is not None
        assert (scene.tmp / "recordings" / record["recording_path"]).stat().st_size > 0
    assert await LiveCallStore(redis).live_call_ids(scene.tenant_id) == []
    assert scene.sim.live_channels() == 0 and scene.sim.live_bridges() == 0

    async def announced() -> bool:
        return set(_ended_events(scene.receiver)) == call_ids

    await _until(announced, ADOPTED_WITHIN_S, "call.ended of every adopted call")
    return took


async def test_a_killed_process_calls_are_finished_by_the_next_one(
    scene: Scene, redis: Redis, pg_pool: asyncpg.Pool
) -> None:
    call_ids, _ = await _crash_with_live_calls(scene, redis, pg_pool)
    started = time.monotonic()
    survivor = await scene.serve("vocals-survivor")
    took = await _assert_adopted(scene, redis, pg_pool, call_ids, started)
    assert await _adopted(survivor) == CALLS
    print(f"\n{CALLS} calls adopted {took:.2f} s after the survivor started")


async def test_two_running_survivors_adopt_each_call_once(
    scene: Scene, redis: Redis, pg_pool: asyncpg.Pool
) -> None:
    """Both survivors are up when the lease lapses, so both find the dead process's calls."""
    call_ids, survivors = await _crash_with_live_calls(
        scene, redis, pg_pool, survivors=("vocals-left", "vocals-right")
    )
    await _assert_adopted(scene, redis, pg_pool, call_ids, time.monotonic())
    assert sum([await _adopted(s) for s in survivors]) == CALLS
    assert set(_ended_events(scene.receiver).values()) == {1}
