"""Requests per second of the config API on one core, with real PostgreSQL and Redis.

    uv run --frozen --no-sync python -m bench.api_throughput [--seconds 10] [--concurrency 32]

A fresh database (migrated) and a leased Redis db are set up and seeded with a tenant, an API
key with limits far above the load, and 20 agents. The API runs under uvicorn (uvloop, no
access log) in a child process pinned to CPU 0; the load generator (aiohttp, `--concurrency`
requests in flight) runs in this process pinned to CPU 1. Each endpoint is warmed up, then
loaded for `--seconds`:

- `GET /api/v1/agents`: API-key authentication and rate limiting (Redis), a page of 20 agents
  with their inbound numbers (PostgreSQL).
- `POST /api/v1/calls`: the same authentication, agent check, call record insert, Redis queue
  push and audit log row per request.

Reported per endpoint: requests/s, p50/p99 latency, non-2xx count, the server's CPU % (close
to 100 % means the API, not the load generator, is the bottleneck) and requests per second of
server CPU time (the one-core capacity when other processes share the machine).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg
from redis.asyncio import Redis

from store.db import create_pool
from store.migrate import migrate
from store.repositories.config import AgentRepository, ApiKeyRepository
from store.repositories.tenants import TenantsRepository
from store.secrets import SecretBox, generate_api_key
from vocals.net import free_port
from vocals.services import resolve_services
from vocals.settings import load_settings

SERVER_CPU = 0
CLIENT_CPU = 1
BENCH_SECRET_KEY = "bench-api-throughput-secret-key-0123456789"
AGENTS = 20
WARMUP_S = 2.0
# The Redis db leases the test suite uses, so a bench run never shares a db with a test run.
REDIS_DBS = range(1, 16)
REDIS_LEASE_S = 3600


@dataclass
class Result:
    endpoint: str
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    server_cpu_pct: float

    def line(self) -> str:
        ordered = sorted(self.latencies_ms) or [0.0]
        p50 = ordered[len(ordered) // 2]
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return (
            f"{self.endpoint:<22} {self.requests / self.seconds:8.0f} req/s   "
            f"p50 {p50:6.1f} ms   p99 {p99:6.1f} ms   non-2xx {self.errors}   "
            f"server CPU {self.server_cpu_pct:5.1f} %   "
            f"{self.per_cpu_second:5.0f} req per server CPU-second"
        )

    @property
    def per_cpu_second(self) -> float:
        """Requests served per second of the server's own CPU time: what one fully available
        core would sustain when the machine is shared (PostgreSQL and Redis not included)."""
        busy = self.server_cpu_pct / 100
        return self.requests / self.seconds / busy if busy else 0.0


def _with_path(url: str, path: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=path))


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.asynccontextmanager
async def _services() -> AsyncIterator[tuple[str, str]]:
    """A fresh migrated database and a leased Redis db, removed afterwards."""
    env = {k: v for k, v in os.environ.items() if k.startswith("VOCALS_")}
    found = await resolve_services(load_settings(env))
    name = f"vocals_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(_with_path(found.database_url, "/postgres"))
    await admin.execute(f'CREATE DATABASE "{name}"')
    database_url = _with_path(found.database_url, f"/{name}")
    conn = await asyncpg.connect(database_url)
    await migrate(conn)
    await conn.close()
    control = Redis.from_url(_with_path(found.redis_url, "/0"))
    token = uuid.uuid4().hex
    db: int | None = None
    for candidate in REDIS_DBS:
        if await control.set(f"vocals:test-db-lease:{candidate}", token, nx=True, ex=REDIS_LEASE_S):
            db = candidate
            break
    if db is None:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        raise RuntimeError("every Redis test db is leased")
    redis_url = _with_path(found.redis_url, f"/{db}")
    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    try:
        yield database_url, redis_url
    finally:
        await redis.flushdb()
        await redis.aclose()
        await control.delete(f"vocals:test-db-lease:{db}")
        await control.aclose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        found.close()


async def _seed(database_url: str) -> tuple[str, str]:
    """A tenant with 20 agents and an API key; returns (key, an agent id)."""
    pool = await create_pool(database_url, max_size=2)
    try:
        tenant = await TenantsRepository(pool).create("bench")
        new = generate_api_key()
        await ApiKeyRepository(pool).create(
            tenant.id,
            {
                "name": "bench",
                "prefix": new.prefix,
                "key_hash": new.key_hash,
                "role": "admin",
                "rpm": 1_000_000,
                "rpd": 1_000_000_000,
            },
        )
        agent_id = ""
        for index in range(AGENTS):
            agent = await AgentRepository(pool).create(
                tenant.id,
                {
                    "name": f"agent-{index:02d}",
                    "stt": {"vendor": "pocketsphinx"},
                    "llm": {"vendor": "scripted"},
                    "tts": {"vendor": "piper"},
                },
            )
            agent_id = str(agent.id)
        return new.key, agent_id
    finally:
        await pool.close()


def serve(database_url: str, redis_url: str, port: int) -> None:
    """The server process: the API under uvicorn with uvloop, pinned to one CPU."""
    import uvicorn

    from api.app import create_app
    from api.context import ApiContext, ApiSettings
    from store.redis import connect

    os.sched_setaffinity(0, {SERVER_CPU})

    async def main() -> None:
        pool = await create_pool(database_url)
        redis = connect(redis_url)
        context = ApiContext(
            pool=pool,
            redis=redis,
            box=SecretBox(BENCH_SECRET_KEY),
            settings=ApiSettings(ui_dist=None),
        )
        config = uvicorn.Config(
            create_app(context),
            host="127.0.0.1",
            port=port,
            loop="uvloop",
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        await uvicorn.Server(config).serve()

    import uvloop

    uvloop.run(main())


async def _wait_for(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise RuntimeError("the API server did not come up")


async def _load(
    session: aiohttp.ClientSession,
    pid: int,
    endpoint: str,
    method: str,
    url: str,
    body: dict[str, object] | None,
    seconds: float,
    concurrency: int,
) -> Result:
    latencies: list[float] = []
    errors = 0
    measuring = False
    stop_at = 0.0

    async def worker() -> None:
        nonlocal errors
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            async with session.request(method, url, json=body) as response:
                await response.read()
                ok = 200 <= response.status < 300
            if measuring:
                latencies.append((time.perf_counter() - started) * 1000)
                errors += 0 if ok else 1

    stop_at = time.monotonic() + WARMUP_S
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    measuring = True
    cpu_before, wall_before = _cpu_seconds(pid), time.monotonic()
    stop_at = wall_before + seconds
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.monotonic() - wall_before
    cpu = (_cpu_seconds(pid) - cpu_before) / elapsed * 100
    return Result(endpoint, len(latencies), errors, elapsed, latencies, cpu)


async def run(seconds: float, concurrency: int) -> list[Result]:
    os.sched_setaffinity(0, {CLIENT_CPU})
    async with _services() as (database_url, redis_url):
        key, agent_id = await _seed(database_url)
        port = free_port()
        server = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.api_throughput",
            "--serve",
            database_url,
            redis_url,
            str(port),
        )
        try:
            base = f"http://127.0.0.1:{port}"
            await _wait_for(f"{base}/healthz")
            headers = {"Authorization": f"Bearer {key}"}
            connector = aiohttp.TCPConnector(limit=concurrency)
            async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
                agents = await _load(
                    session,
                    server.pid,
                    "GET /api/v1/agents",
                    "GET",
                    f"{base}/api/v1/agents?limit={AGENTS}",
                    None,
                    seconds,
                    concurrency,
                )
                calls = await _load(
                    session,
                    server.pid,
                    "POST /api/v1/calls",
                    "POST",
                    f"{base}/api/v1/calls",
                    {"agent_id": agent_id, "to": "+15550100100"},
                    seconds,
                    concurrency,
                )
            return [agents, calls]
        finally:
            server.terminate()
            await asyncio.wait_for(server.wait(), 10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--serve", nargs=3, metavar=("DATABASE_URL", "REDIS_URL", "PORT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], args.serve[1], int(args.serve[2]))
        return
    results = asyncio.run(run(args.seconds, args.concurrency))
    print(f"API throughput, server pinned to CPU {SERVER_CPU}, {args.concurrency} in flight:")
    for result in results:
        print(result.line())


if __name__ == "__main__":
    main()
