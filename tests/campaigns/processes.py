"""Campaigns run by real `vocals serve` subprocesses on one PostgreSQL and Redis against the
fake Asterisk: starting and stopping them, a tenant with an admin key, a campaign over the
API, waiting for it, and reading back what each lead went through."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import socket
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import asyncpg
import httpx

from provisioning.render import PJSIP_FILENAME
from store.repositories.config import ApiKeyRepository
from store.repositories.tenants import TenantsRepository
from store.secrets import generate_api_key
from tests.campaigns.harness import LOADTEST_AGENT
from tests.conftest import REPO_ROOT
from tests.fakes.asterisk import FakeAsterisk, Origination
from tests.telephony.test_ami import TRUNK
from vocals.net import free_port

SECRET_KEY: Final = "campaign-crash-secret-key-0123456789abcdef"
SERVER_START_S: Final = 60.0
POLL_S: Final = 0.1
ALWAYS: Final = {"days": [1, 2, 3, 4, 5, 6, 7], "start": "00:00", "end": "23:59"}
# A dead process's campaign lease (10 s) and process lease lapse quickly here.
PROCESS_LEASE_S: Final = "2"


class Serve:
    """One `vocals serve` subprocess with its own Stasis app."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.process: asyncio.subprocess.Process | None = None
        self.url = env["VOCALS_PUBLIC_URL"]
        self.app = env["VOCALS_ARI_APP"]

    async def start(self, asterisk: FakeAsterisk) -> None:
        with self.log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "vocals", "serve", cwd=REPO_ROOT, env=self.env, stderr=out
            )
        await asterisk.wait_for_app(self.app, timeout_s=SERVER_START_S)
        deadline = time.monotonic() + SERVER_START_S
        async with httpx.AsyncClient() as client:
            while True:
                try:
                    if (await client.get(f"{self.url}/healthz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, self.tail()
                await asyncio.sleep(POLL_S)

    async def stop(self, sig: signal.Signals = signal.SIGINT) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.send_signal(sig)
        try:
            await asyncio.wait_for(self.process.wait(), 30)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def serve(name: str, database_url: str, redis_url: str, tmp: Path, asterisk: FakeAsterisk) -> Serve:
    """A process named `name` (its Stasis app `vocals-<name>`, its log `<name>.log`)."""
    http = free_port()
    rtp = max(free_port(socket.SOCK_DGRAM) & ~1, 20000)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOCALS_")}
    env.update(
        VOCALS_DATABASE_URL=database_url,
        VOCALS_REDIS_URL=redis_url,
        VOCALS_HTTP_PORT=str(http),
        VOCALS_PUBLIC_URL=f"http://127.0.0.1:{http}",
        VOCALS_AUDIOSOCKET_PORT=str(free_port()),
        VOCALS_AUDIOSOCKET_HEALTH_PORT=str(free_port()),
        VOCALS_RTP_PORTS=f"{rtp}-{rtp + 100}",
        VOCALS_ARI_URL=asterisk.ari_url,
        VOCALS_ARI_USER="vocals",
        VOCALS_ARI_PASSWORD="vocals",
        VOCALS_ARI_APP=f"vocals-{name}",
        VOCALS_ASTERISK_CONFIG_DIR=str(tmp / "asterisk"),
        VOCALS_RECORDINGS_DIR=str(tmp / "recordings"),
        VOCALS_DATA_DIR=str(REPO_ROOT / ".vocals" / "test"),
        VOCALS_SECRET_KEY=SECRET_KEY,
        VOCALS_PROCESS_LEASE_S=PROCESS_LEASE_S,
        VOCALS_LOADTEST_PROVIDERS="1",
        VOCALS_LOG_LEVEL="info",
        VOCALS_LOG_FORMAT="json",
    )
    return Serve(env, tmp / f"{name}.log")


def load_generated_trunks(asterisk: FakeAsterisk, tmp: Path) -> None:
    """The fake reads the trunk file the processes write when they reload PJSIP."""
    generated = tmp / "asterisk" / PJSIP_FILENAME
    asterisk.reload_hooks["res_pjsip.so"] = lambda fake: fake.load_pjsip(generated.read_text())


async def admin_headers(pool: asyncpg.Pool, name: str) -> dict[str, str]:
    """A new tenant's admin API key, as an Authorization header."""
    tenant = await TenantsRepository(pool).create(f"{name}-{uuid.uuid4().hex[:8]}")
    key = generate_api_key()
    await ApiKeyRepository(pool).create(
        tenant.id,
        {"name": "tests", "prefix": key.prefix, "key_hash": key.key_hash, "role": "admin"},
    )
    return {"Authorization": f"Bearer {key.key}"}


async def post(url: str, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(url, json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


@dataclass(frozen=True)
class Caps:
    cps: int
    concurrency: int
    trunk_calls: int


async def start_campaign(
    proc: Serve,
    headers: dict[str, str],
    numbers: list[str],
    caps: Caps,
    retry_rules: dict[str, Any],
) -> uuid.UUID:
    """A trunk, a load-test agent and a campaign calling `numbers` at any time, started."""
    api = f"{proc.url}/api/v1"
    trunk = await post(
        f"{api}/sip-trunks",
        headers,
        {**TRUNK, "max_cps": caps.cps, "max_calls": caps.trunk_calls},
    )
    agent = await post(f"{api}/agents", headers, {**LOADTEST_AGENT, "name": "reminder"})
    campaign = await post(
        f"{api}/campaigns",
        headers,
        {
            "name": "survival",
            "agent_id": agent["id"],
            "trunk_id": trunk["id"],
            "max_concurrency": caps.concurrency,
            "calls_per_second": caps.cps,
            "calling_window": ALWAYS,
            "retry_rules": retry_rules,
        },
    )
    await post(
        f"{api}/campaigns/{campaign['id']}/leads",
        headers,
        {"leads": [{"number": n} for n in numbers]},
    )
    await post(f"{api}/campaigns/{campaign['id']}/start", headers, {})
    return uuid.UUID(campaign["id"])


async def wait_dialled(asterisk: FakeAsterisk, count: int, deadline: float, *procs: Serve) -> None:
    while len(asterisk.originations) < count:
        assert time.monotonic() < deadline, "\n".join(p.tail() for p in procs)
        await asyncio.sleep(POLL_S / 10)


async def wait_completed(
    pool: asyncpg.Pool, campaign_id: uuid.UUID, deadline: float, *procs: Serve
) -> None:
    while (
        await pool.fetchval("SELECT status FROM campaigns WHERE id = $1", campaign_id)
        != "completed"
    ):
        assert time.monotonic() < deadline, "\n".join(p.tail() for p in procs)
        await asyncio.sleep(POLL_S)


@dataclass(frozen=True)
class Outcome:
    """What PostgreSQL recorded of a campaign, beside what the fake Asterisk saw."""

    leads: list[asyncpg.Record]  # number, state, attempts, recorded (attempt rows)
    attempt_calls: list[uuid.UUID]  # each attempt's call id
    dials: collections.Counter[str]  # originations per number
    channels: collections.Counter[uuid.UUID]  # originations per call id

    def dialled_twice(self) -> set[uuid.UUID]:
        """Attempts whose call the fake saw originated more than once."""
        return {c for c, n in self.channels.items() if n > 1}


async def outcome(
    pool: asyncpg.Pool, campaign_id: uuid.UUID, originations: list[Origination]
) -> Outcome:
    leads = await pool.fetch(
        "SELECT l.number, l.state, l.attempts, "
        "(SELECT count(*) FROM campaign_attempts a WHERE a.lead_id = l.id) AS recorded "
        "FROM campaign_leads l WHERE l.campaign_id = $1",
        campaign_id,
    )
    calls = await pool.fetch(
        "SELECT call_id FROM campaign_attempts WHERE campaign_id = $1", campaign_id
    )
    return Outcome(
        leads=leads,
        attempt_calls=[r["call_id"] for r in calls],
        dials=collections.Counter(o.number for o in originations),
        channels=collections.Counter(uuid.UUID(o.channel_id) for o in originations),
    )
