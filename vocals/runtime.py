"""One `vocals serve` process: the connections and background work it owns, started and
stopped in order around the HTTP server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import msgspec
import structlog
from prometheus_client import Gauge
from redis.asyncio import Redis

from ari_app.tasks import cancel_and_wait, supervised_task, task_states
from store.call_records import CallRecordWriter
from store.db import create_pool
from store.migrate import migrate
from store.redis import REDIS_UNAVAILABLE
from store.redis import connect as connect_redis
from store.secrets import SecretBox
from vocals.capacity import export_loop_lag
from vocals.loop_lag import LoopLagMonitor
from vocals.secret_key import secret_box
from vocals.services import Services, ensure_database, resolve_services
from vocals.settings import Settings

log = structlog.get_logger(__name__)

# How often waiting call records are retried while PostgreSQL is down: often enough that the
# outbox empties soon after it is back, rarely enough to cost nothing while it is not.
OUTBOX_DRAIN_INTERVAL_S = 5.0

DEAD_LETTERS = Gauge(
    "vocals_call_records_dead_letters",
    "Call records PostgreSQL refused as invalid, waiting in the dead-letter list for a human.",
)


class Runtime:
    """Databases, secrets and the background tasks of a serving process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.services: Services | None = None
        self._pool: asyncpg.Pool | None = None
        self._redis: Redis | None = None
        self._box: SecretBox | None = None
        self.records: CallRecordWriter | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stoppers: list[Callable[[], Awaitable[None]]] = []
        self.loop_lag = LoopLagMonitor()

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None, "runtime not started"
        return self._pool

    @property
    def redis(self) -> Redis:
        assert self._redis is not None, "runtime not started"
        return self._redis

    @property
    def box(self) -> SecretBox:
        if self._box is None:
            self._box = secret_box(self.settings)
        return self._box

    async def connect(self) -> None:
        """Start watching the event loop; find or start PostgreSQL and Redis, migrate, open
        the pools."""
        self.loop_lag.start()
        export_loop_lag(self.loop_lag)
        self.services = await resolve_services(self.settings)
        for line in self.services.describe():
            log.info("using " + line)
        await ensure_database(self.services.database_url)
        conn = await asyncpg.connect(self.services.database_url, timeout=10)
        try:
            applied = await migrate(conn)
        finally:
            await conn.close()
        if applied:
            log.info("migrated", applied=[f"{m.version:04d}_{m.name}" for m in applied])
        self._pool = await create_pool(self.services.database_url)
        self._redis = connect_redis(self.services.redis_url)
        await self._redis.ping()
        self.records = CallRecordWriter(self._pool, self._redis)
        self.spawn(self._drain_outbox, "outbox")

    def spawn(self, work: Callable[[], Awaitable[None]], name: str) -> None:
        """Run `work()` until it returns or the runtime stops, restarted when it fails."""
        self._tasks.append(supervised_task(name, work))

    def on_stop(self, stopper: Callable[[], Awaitable[None]]) -> None:
        """Call `stopper` at shutdown, in reverse order of registration."""
        self._stoppers.append(stopper)

    async def health(self) -> dict[str, Any]:
        """The supervised tasks' states, and the outbox and dead letters when Redis answers."""
        report: dict[str, Any] = {
            "tasks": {name: msgspec.to_builtins(state) for name, state in task_states().items()}
        }
        if self.records is not None:
            with contextlib.suppress(*REDIS_UNAVAILABLE):  # /healthz says Redis is down
                report["outbox_pending"] = await self.records.pending()
                report["dead_letters"] = await self.records.dead_letters()
        report["event_loop_lag_ms"] = round(self.loop_lag.lag_s * 1000, 1)
        report["event_loop_lag_max_ms"] = round(self.loop_lag.max_lag_s * 1000, 1)
        return report

    async def _drain_outbox(self) -> None:
        assert self.records is not None
        while True:
            written = await self.records.drain()
            if written:
                log.info("outbox drained", written=written)
            DEAD_LETTERS.set(await self.records.dead_letters())
            await asyncio.sleep(OUTBOX_DRAIN_INTERVAL_S)

    async def close(self) -> None:
        """Stop everything started, in reverse order. Idempotent."""
        stoppers, self._stoppers = self._stoppers, []
        for stopper in reversed(stoppers):
            try:
                await stopper()
            except Exception:
                log.exception("error while stopping")
        await self.loop_lag.stop()
        tasks, self._tasks = self._tasks, []
        await asyncio.gather(*(cancel_and_wait(task) for task in tasks), return_exceptions=True)
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        if self.services is not None:
            self.services.close()
            self.services = None
