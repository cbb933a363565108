"""A campaign's dial rate, concurrency and leads per minute: real `vocals serve` processes on
the load-test providers against the fake Asterisk, on a database and Redis db of their own.

    uv run --frozen --no-sync python -m bench.campaign_dial_rate [--leads 1000] [--cps 40]
        [--concurrency 40] [--processes 1] [--in-flight 8] [--human-share 0.3]

Most numbers are busy (the far end answers busy at once), the rest answer and hang up after
a second: the dispatcher, not the calls, is what limits the rate. Every figure is read from
the fake's own log of originations: the sustained rate over the run, the tightest second
(`cps + 1` originations in at least one second when the cap held), the peak of channels up
at once. The fake Asterisk runs in this process beside the servers, on the same loaded cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from redis.asyncio import Redis

from store.db import create_pool
from store.migrate import migrate
from store.outbound_queue import OutboundQueue
from tests.campaigns.harness import peak_concurrency, tightest_second
from tests.campaigns.processes import (
    Caps,
    admin_headers,
    load_generated_trunks,
    serve,
    start_campaign,
    wait_completed,
)
from tests.fakes.asterisk import Callee, FakeAsterisk
from vocals.services import resolve_services
from vocals.settings import load_settings

REDIS_DBS = range(1, 16)  # the test suite's leased dbs, so a run never shares one
HUMAN_CALL_S = 1.0
RUN_S = 900.0
SAMPLE_S = 0.5


@contextlib.asynccontextmanager
async def _stores() -> AsyncIterator[tuple[str, str]]:
    """A fresh migrated database and a leased, flushed Redis db: their URLs."""
    env = {k: v for k, v in os.environ.items() if k.startswith("VOCALS_")}
    found = await resolve_services(load_settings(env))
    name = f"vocals_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(
        urlunsplit(urlsplit(found.database_url)._replace(path="/postgres"))
    )
    await admin.execute(f'CREATE DATABASE "{name}"')
    database_url = urlunsplit(urlsplit(found.database_url)._replace(path=f"/{name}"))
    conn = await asyncpg.connect(database_url)
    await migrate(conn)
    await conn.close()
    base = urlsplit(found.redis_url)
    control = Redis.from_url(urlunsplit(base._replace(path="/0")))
    token = uuid.uuid4().hex
    for db in REDIS_DBS:
        if await control.set(f"vocals:test-db-lease:{db}", token, nx=True, ex=3600):
            break
    else:
        raise RuntimeError("every Redis test db is leased")
    redis_url = urlunsplit(base._replace(path=f"/{db}"))
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


async def run(args: argparse.Namespace) -> None:
    fake = FakeAsterisk(time_scale=0.01)
    await fake.start()
    numbers = [f"+1555{8000000 + i:07d}" for i in range(args.leads)]
    every = max(1, round(1 / args.human_share)) if args.human_share > 0 else 0
    for i, number in enumerate(numbers):
        human = every and i % every == 0
        fake.callees[number] = (
            Callee(hangup_after_s=HUMAN_CALL_S) if human else Callee(outcome="busy")
        )
    with tempfile.TemporaryDirectory() as tmp:
        load_generated_trunks(fake, Path(tmp))
        async with _stores() as (database_url, redis_url):
            pool = await create_pool(database_url, max_size=2)
            procs = [
                serve(f"bench{i}", database_url, redis_url, Path(tmp), fake)
                for i in range(args.processes)
            ]
            for proc in procs:
                proc.env["VOCALS_DIALS_IN_FLIGHT"] = str(args.in_flight)
                proc.env["VOCALS_LOG_LEVEL"] = "warning"
            try:
                for proc in procs:
                    await proc.start(fake)
                headers = await admin_headers(pool, "bench")
                began = time.monotonic()
                campaign_id = await start_campaign(
                    procs[0],
                    headers,
                    numbers,
                    Caps(cps=args.cps, concurrency=args.concurrency, trunk_calls=args.concurrency),
                    {"busy": {"retries": 0, "after_s": 0}},
                )
                depths: list[int] = []
                sampling = asyncio.create_task(_sample_queue(redis_url, depths))
                await wait_completed(pool, campaign_id, began + RUN_S, *procs)
                done = time.monotonic()
                sampling.cancel()
            finally:
                for proc in procs:
                    await proc.stop()
                await pool.close()
    await fake.stop()
    report(args, fake, done, depths)


async def _sample_queue(redis_url: str, depths: list[int]) -> None:
    """The outbound queue's depth every SAMPLE_S: near 0, the runner feeding it is the limit;
    deep, the dispatchers are."""
    redis = Redis.from_url(redis_url)
    queue = OutboundQueue(redis)
    try:
        while True:
            depth = await queue.depth()
            depths.append(depth["due"] + depth["leased"])
            await asyncio.sleep(SAMPLE_S)
    finally:
        await redis.aclose()


def report(args: argparse.Namespace, fake: FakeAsterisk, done: float, depths: list[int]) -> None:
    starts = sorted(o.started for o in fake.originations)
    elapsed = done - starts[0]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    rate = (len(starts) - 1) / (starts[-1] - starts[0])
    load = os.getloadavg()[0]
    print(
        f"campaign: {args.leads} leads, {args.processes} process(es) x {args.in_flight} dials in "
        f"flight, caps {args.cps}/s and {args.concurrency} at once; load {load:.1f} on "
        f"{os.cpu_count()} cores"
    )
    print(
        f"dial rate {rate:6.1f}/s sustained (median gap {statistics.median(gaps) * 1000:.1f} ms); "
        f"tightest {args.cps + 1} dials in {tightest_second(fake.originations, args.cps):.3f} s; "
        f"peak concurrency {peak_concurrency(fake.originations)}; "
        f"{args.leads / elapsed * 60:.0f} leads/min ({elapsed:.1f} s first dial to completed)"
    )
    print(
        f"queued calls waiting for a dispatcher: median {statistics.median(depths):.0f}, "
        f"max {max(depths)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=1000)
    parser.add_argument("--cps", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=40)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--in-flight", type=int, default=8)
    parser.add_argument("--human-share", type=float, default=0.3)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
