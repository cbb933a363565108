"""A real `vocals serve` killed with SIGKILL in the middle of a campaign, and another started:
no lead is lost, and every origination the fake Asterisk saw is one recorded attempt (the
killed process's live calls end as failed, process lost, and are retried as new attempts)."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

import asyncpg
import httpx
import pytest

from provisioning.render import PJSIP_FILENAME
from store.repositories.config import ApiKeyRepository
from store.repositories.tenants import TenantsRepository
from store.secrets import generate_api_key
from tests.campaigns.harness import LOADTEST_AGENT
from tests.conftest import REPO_ROOT
from tests.fakes.asterisk import Callee, FakeAsterisk
from tests.telephony.test_ami import TRUNK
from vocals.net import free_port

LEADS: Final = 60
CPS: Final = 5
CONCURRENCY: Final = 5
# Killed once this many leads were dialled: the rest are the next process's to call.
KILL_AFTER: Final = 20
SECRET_KEY: Final = "campaign-crash-secret-key-0123456789abcdef"
SERVER_START_S: Final = 60.0
# The campaign lease (10 s) and the process lease (2 s) lapse, then the rest is dialled.
FINISH_S: Final = 90.0
POLL_S: Final = 0.1
ALWAYS: Final = {"days": [1, 2, 3, 4, 5, 6, 7], "start": "00:00", "end": "23:59"}


@pytest.fixture
async def asterisk() -> AsyncIterator[FakeAsterisk]:
    fake = FakeAsterisk(time_scale=0.01)
    await fake.start()
    yield fake
    await fake.stop()


class Serve:
    """One `vocals serve` subprocess with its own Stasis app."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.process: asyncio.subprocess.Process | None = None
        self.url = env["VOCALS_PUBLIC_URL"]

    async def start(self, asterisk: FakeAsterisk) -> None:
        with self.log.open("wb") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "vocals", "serve", cwd=REPO_ROOT, env=self.env, stderr=out
            )
        await asterisk.wait_for_app(self.env["VOCALS_ARI_APP"], timeout_s=SERVER_START_S)
        deadline = time.monotonic() + SERVER_START_S
        async with httpx.AsyncClient() as client:
            while True:
                try:
                    if (await client.get(f"{self.url}/healthz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, self.log.read_text()[-2000:]
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


def _env(
    database_url: str, redis_url: str, tmp: Path, app: str, asterisk: FakeAsterisk
) -> dict[str, str]:
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
        VOCALS_ARI_APP=app,
        VOCALS_ASTERISK_CONFIG_DIR=str(tmp / "asterisk"),
        VOCALS_RECORDINGS_DIR=str(tmp / "recordings"),
        VOCALS_DATA_DIR=str(REPO_ROOT / ".vocals" / "test"),
        VOCALS_SECRET_KEY=SECRET_KEY,
        VOCALS_PROCESS_LEASE_S="2",
        VOCALS_LOADTEST_PROVIDERS="1",
        VOCALS_LOG_LEVEL="info",
        VOCALS_LOG_FORMAT="json",
    )
    return env


async def _post(url: str, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(url, json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


async def test_a_killed_process_loses_no_lead_and_dials_none_twice(
    asterisk: FakeAsterisk,
    database_url: str,
    redis_url: str,
    pg_pool: asyncpg.Pool,
    tmp_path: Path,
) -> None:
    generated = tmp_path / "asterisk" / PJSIP_FILENAME
    asterisk.reload_hooks["res_pjsip.so"] = lambda fake: fake.load_pjsip(generated.read_text())
    numbers = [f"+1555{3000000 + i:07d}" for i in range(LEADS)]
    for i, number in enumerate(numbers):
        busy = i % 4 == 3
        asterisk.callees[number] = Callee(outcome="busy") if busy else Callee(hangup_after_s=1.0)
    tenant = await TenantsRepository(pg_pool).create(f"crash-{uuid.uuid4().hex[:8]}")
    key = generate_api_key()
    await ApiKeyRepository(pg_pool).create(
        tenant.id,
        {"name": "tests", "prefix": key.prefix, "key_hash": key.key_hash, "role": "admin"},
    )
    headers = {"Authorization": f"Bearer {key.key}"}
    first = Serve(
        _env(database_url, redis_url, tmp_path, "vocals-first", asterisk), tmp_path / "first.log"
    )
    second = Serve(
        _env(database_url, redis_url, tmp_path, "vocals-second", asterisk), tmp_path / "second.log"
    )
    try:
        await first.start(asterisk)
        api = f"{first.url}/api/v1"
        trunk = await _post(
            f"{api}/sip-trunks", headers, {**TRUNK, "max_cps": CPS, "max_calls": 10}
        )
        agent = await _post(f"{api}/agents", headers, {**LOADTEST_AGENT, "name": "reminder"})
        campaign = await _post(
            f"{api}/campaigns",
            headers,
            {
                "name": "crash",
                "agent_id": agent["id"],
                "trunk_id": trunk["id"],
                "max_concurrency": CONCURRENCY,
                "calls_per_second": CPS,
                "calling_window": ALWAYS,
                "retry_rules": {
                    "busy": {"retries": 1, "after_s": 0},
                    "failed": {"retries": 2, "after_s": 0},
                },
            },
        )
        await _post(
            f"{api}/campaigns/{campaign['id']}/leads",
            headers,
            {"leads": [{"number": n} for n in numbers]},
        )
        await _post(f"{api}/campaigns/{campaign['id']}/start", headers, {})
        deadline = time.monotonic() + FINISH_S
        while len(asterisk.originations) < KILL_AFTER:
            assert time.monotonic() < deadline, first.log.read_text()[-3000:]
            await asyncio.sleep(POLL_S / 10)
        await first.stop(signal.SIGKILL)
        killed_at = len(asterisk.originations)
        await second.start(asterisk)
        campaign_id = uuid.UUID(campaign["id"])
        while (
            await pg_pool.fetchval("SELECT status FROM campaigns WHERE id = $1", campaign_id)
            != "completed"
        ):
            assert time.monotonic() < deadline, second.log.read_text()[-3000:]
            await asyncio.sleep(POLL_S)
    finally:
        await first.stop()
        await second.stop()

    leads = await pg_pool.fetch(
        "SELECT l.number, l.state, l.attempts, "
        "(SELECT count(*) FROM campaign_attempts a WHERE a.lead_id = l.id) AS recorded "
        "FROM campaign_leads l WHERE l.campaign_id = $1",
        campaign_id,
    )
    dialled = collections.Counter(o.number for o in asterisk.originations)
    assert killed_at < len(asterisk.originations)  # the second process dialled the rest
    assert {r["state"] for r in leads} <= {"reached", "exhausted"}
    assert len(leads) == LEADS
    for lead in leads:
        assert dialled[lead["number"]] == lead["recorded"] == lead["attempts"], dict(lead)
        assert lead["state"] == "reached" or dialled[lead["number"]] > 1, dict(lead)
    lost = await pg_pool.fetchval(
        "SELECT count(*) FROM calls c JOIN campaign_attempts a ON a.call_id = c.id "
        "WHERE a.campaign_id = $1 AND c.error_reason = 'process lost'",
        campaign_id,
    )
    print(f"\n{killed_at} dialled before the kill, {lost} calls lost with the process and retried")
