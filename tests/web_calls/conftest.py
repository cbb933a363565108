"""A real `vocals serve` (no Asterisk, the load-test providers registered) with a tenant, an
admin API key and a viewer API key, reached over real HTTP and WebSocket connections."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from store.db import create_pool
from store.repositories.config import ApiKeyRepository
from store.repositories.tenants import TenantsRepository
from store.secrets import generate_api_key
from tests.exposure.process import VocalsProcess, vocals_serve

# Quick, deterministic providers: the socket and the call around them are under test.
LOADTEST_AGENT: dict[str, Any] = {
    "name": "Web desk",
    "welcome_message": "Hello from the web desk.",
    "stt": {"vendor": "loadtest"},
    "llm": {"vendor": "loadtest"},
    "tts": {"vendor": "loadtest"},
    "recording_enabled": True,
}
SITE = "https://shop.example.com"
# A few requests per test beside the rate limit's own test.
KEY_RPM = 1000


@dataclass(frozen=True)
class Site:
    """The tenant as a website's backend sees it."""

    server: VocalsProcess
    tenant_id: uuid.UUID
    admin: dict[str, str]
    viewer: dict[str, str]
    data_dir: Path

    def client(self, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.server.url, headers=headers or self.admin, timeout=30
        )

    async def agent(self, **changes: Any) -> str:
        async with self.client() as client:
            name = f"{LOADTEST_AGENT['name']} {uuid.uuid4().hex[:6]}"
            body = {**LOADTEST_AGENT, "name": name, **changes}
            response = await client.post("/api/v1/agents", json=body)
            assert response.status_code == 201, response.text
            return str(response.json()["id"])

    async def token(self, agent_id: str, origin: str = SITE, **fields: Any) -> dict[str, Any]:
        body = {"agent_id": agent_id, "allowed_origin": origin, **fields}
        async with self.client() as client:
            response = await client.post("/api/v1/web-calls", json=body)
            assert response.status_code == 201, response.text
            return dict(response.json())


async def api_key(pool: Any, tenant_id: uuid.UUID, role: str, rpm: int = KEY_RPM) -> dict[str, str]:
    key = generate_api_key()
    await ApiKeyRepository(pool).create(
        tenant_id,
        {"name": f"{role}-{rpm}", "prefix": key.prefix, "key_hash": key.key_hash, "role": role,
         "rpm": rpm},
    )  # fmt: skip
    return {"Authorization": f"Bearer {key.key}"}


@pytest.fixture(scope="module")
async def site(
    database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Site]:
    data = tmp_path_factory.mktemp("web-calls")
    async with vocals_serve(
        database_url, redis_url, data, loadtest_providers="1", allow_private_urls="true"
    ) as server:
        pool = await create_pool(database_url, max_size=2)
        try:
            tenant = await TenantsRepository(pool).create(f"web-{uuid.uuid4().hex[:8]}")
            admin = await api_key(pool, tenant.id, "admin")
            viewer = await api_key(pool, tenant.id, "viewer")
            yield Site(server, tenant.id, admin, viewer, data)
        finally:
            await pool.close()
