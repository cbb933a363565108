"""A `vocals serve` process in-process: the same `build_app` start-up and `Runtime.close`
shutdown, against the fake Asterisk and fake AMI over real sockets, with a tenant whose admin
API key reaches the API through httpx's ASGI transport."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from litestar import Litestar

from store.repositories.config import ApiKeyRepository
from store.repositories.tenants import TenantsRepository
from store.secrets import generate_api_key
from tests.api.conftest import client_for
from vocals.net import free_port
from vocals.runtime import Runtime
from vocals.serve import build_app
from vocals.settings import Settings
from vocals.telephony import Telephony

# How often a test looks at /healthz while it waits for a state.
POLL_S = 0.05
# Until a starting process has loaded its local models, on a machine busy with other tests
# (the worker pool's own start timeout is 30 s).
READY_S = 90.0
SECRET_KEY = "telephony-tests-secret-key-0123456789abcdef"


def serve_settings(database_url: str, redis_url: str, data: Path, **changes: Any) -> Settings:
    """Settings of a serving process with its files under `data` and free ports."""
    rtp = max(free_port(socket.SOCK_DGRAM) & ~1, 20000)
    values: dict[str, Any] = {
        "database_url": database_url,
        "redis_url": redis_url,
        "secret_key": SECRET_KEY,
        "audiosocket_port": free_port(),
        "audiosocket_health_port": free_port(),
        "rtp_ports": f"{rtp}-{rtp + 20}",
        "asterisk_config_dir": str(data / "asterisk"),
        "recordings_dir": str(data / "recordings"),
        "data_dir": str(data),
        "shutdown_drain_s": 1.0,
        **changes,
    }
    return Settings(**values)


@dataclass
class Serving:
    runtime: Runtime
    client: httpx.AsyncClient
    tenant_id: uuid.UUID
    headers: dict[str, str]
    telephony: Telephony
    app: Litestar  # to serve on a real socket too, for a peer that calls back (Twilio)

    async def wait_health(self, key: str, value: object, timeout_s: float = 10.0) -> None:
        """Until `/healthz` reports `key` as `value` (the process's own view)."""
        deadline = time.monotonic() + timeout_s
        while True:
            health = (await self.client.get("/healthz")).json()
            if health["extra"].get(key) == value:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"/healthz never said {key}={value!r}: {health['extra']}")
            await asyncio.sleep(POLL_S)


@asynccontextmanager
async def serving(settings: Settings, *, ready: bool = True) -> AsyncIterator[Serving]:
    """The process, once it takes calls (`ready`, as an operator's probe waits) or at once."""
    runtime = Runtime(settings)
    try:
        app, telephony = await build_app(runtime)
        tenant = await TenantsRepository(runtime.pool).create(f"tel-{uuid.uuid4().hex[:8]}")
        key = generate_api_key()
        await ApiKeyRepository(runtime.pool).create(
            tenant.id,
            {"name": "tests", "prefix": key.prefix, "key_hash": key.key_hash, "role": "admin"},
        )
        async with client_for(app) as client:
            headers = {"Authorization": f"Bearer {key.key}"}
            proc = Serving(runtime, client, tenant.id, headers, telephony, app)
            if ready:
                await proc.wait_health("readiness", "ready", READY_S)
            yield proc
    finally:
        await runtime.close()
