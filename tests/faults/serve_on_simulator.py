"""Real `vocals serve` processes against the Asterisk simulator, for the crash and outage
tests: a tenant whose agent (load-test providers) answers one number, a local webhook
receiver subscribed to its call events, and one Stasis app per process (DESIGN.md, Scale)."""

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
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import asyncpg
import httpx

from store.repositories.config import AgentRepository, InboundRouteRepository, WebhookRepository
from store.repositories.tenants import TenantsRepository
from store.secrets import SecretBox
from tests.api.webhook_receiver import WebhookReceiver
from tests.conftest import REPO_ROOT
from vocals.loadtest.agent import agent_values
from vocals.loadtest.config import LoadTestConfig
from vocals.net import free_port
from vocals.simulator import AsteriskSimulator, SimulatedCall

# VOCALS_PROCESS_LEASE_S of the servers: a killed one is taken for dead this soon.
LEASE_S: Final = 2.0
SECRET_KEY: Final = "fault-tests-secret-key-0123456789abcdef"
ARI_PASSWORD: Final = "fault-tests-ari-password"
# Bounds of each wait: a server start (models load), a call's set-up.
SERVER_START_S: Final = 60.0
CALL_UP_S: Final = 30.0
# A caller has heard this much of the greeting: the call is up and its recording holds audio.
HEARD_BYTES: Final = 8000 * 2  # one second of slin 8 kHz
POLL_S: Final = 0.1
STOP_S: Final = 30.0


@dataclass
class Server:
    process: asyncio.subprocess.Process
    http_url: str
    log: Path

    def log_events(self, event: str) -> list[dict[str, Any]]:
        """The server's JSON log lines whose event is `event`."""
        found = []
        for line in self.log.read_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and entry.get("event") == event:
                found.append(entry)
        return found

    async def metric(self, name: str) -> float:
        """A sample's value from the server's /metrics (0 when absent)."""
        async with httpx.AsyncClient() as client:
            text = (await client.get(f"{self.http_url}/metrics")).text
        values = [float(line.split()[-1]) for line in text.splitlines() if line.startswith(name)]
        return values[0] if values else 0.0


@dataclass
class Scene:
    sim: AsteriskSimulator
    receiver: WebhookReceiver
    tenant_id: uuid.UUID
    agent_id: uuid.UUID
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
            VOCALS_LOG_FORMAT="json",
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

    async def place_calls(
        self, app: str, count: int, did: str | None = None
    ) -> list[SimulatedCall]:
        """`count` callers of `did` (the agent's number), each answered, bridged and hearing
        the agent's greeting."""
        heard = [asyncio.Event() for _ in range(count)]

        def ear(event: asyncio.Event) -> Callable[[bytes, float], None]:
            got = bytearray()

            def on_frame(pcm: bytes, at: float) -> None:
                if any(pcm):
                    got.extend(pcm)
                if len(got) >= HEARD_BYTES:
                    event.set()

            return on_frame

        calls = [
            self.sim.place_call(did or self.did, on_frame_received=ear(e), app=app) for e in heard
        ]
        async with asyncio.timeout(CALL_UP_S):
            await asyncio.gather(*(e.wait() for e in heard))
        return calls


async def until(check: Callable[[], Awaitable[bool]], within_s: float, what: str) -> None:
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
        await asyncio.wait_for(server.process.wait(), STOP_S)
    except TimeoutError:
        server.process.kill()
        await server.process.wait()


@asynccontextmanager
async def scene(
    tmp: Path, pool: asyncpg.Pool, database_url: str, redis_url: str, *, recording: bool
) -> AsyncIterator[Scene]:
    """A fresh tenant and number, the simulator and the receiver; every server started in it
    is stopped at the end. `database_url` is what the servers use (a proxy, say)."""
    sim = AsteriskSimulator(username="vocals", password=ARI_PASSWORD)
    receiver = WebhookReceiver()
    await sim.start()
    await receiver.start()
    tenants = TenantsRepository(pool)
    tenant = await tenants.create(f"faults-{uuid.uuid4().hex[:8]}")
    await tenants.set_allow_private_webhooks(tenant.id, True)
    did = f"+1555{uuid.uuid4().int % 10**7:07d}"
    agent = await AgentRepository(pool).create(
        tenant.id, {**agent_values(LoadTestConfig(did=did)), "recording_enabled": recording}
    )
    assert agent is not None
    await InboundRouteRepository(pool).replace_for_agent(tenant.id, agent.id, [did])
    await WebhookRepository(pool, SecretBox(SECRET_KEY)).create(
        tenant.id,
        {"url": receiver.url, "events": ["call.ended", "call.failed"], "secret": "s" * 32},
    )
    built = Scene(sim, receiver, tenant.id, agent.id, did, tmp, database_url, redis_url)
    try:
        yield built
    finally:
        await asyncio.gather(*(_stop(s) for s in built.servers))
        await receiver.stop()
        await sim.stop()
