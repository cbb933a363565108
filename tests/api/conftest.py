"""The API over real PostgreSQL and Redis, called in-process through httpx's ASGI transport."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, cast

import asyncpg
import httpx
import pytest
from litestar import Litestar
from redis.asyncio import Redis

from api.app import create_app
from api.context import ApiContext, ApiSettings
from store.repositories.config import ApiKeyRepository, UserRepository
from store.repositories.tenants import TenantsRepository
from store.secrets import SecretBox, generate_api_key, hash_password
from tests.fakes.oidc_provider import FakeOidcProvider

TEST_SECRET_KEY = "api-tests-secret-key-0123456789abcdef"
PASSWORD = "correct horse battery"
# Tests sign in many times from one address; the per-address limit has its own test.
TEST_SETTINGS = ApiSettings(ui_dist=None, login_attempts_per_ip=10_000)


@dataclass(frozen=True)
class TenantHandle:
    """A tenant with an owner, an admin, a viewer (signed in) and an admin API key."""

    id: uuid.UUID
    name: str
    owner: dict[str, str]
    admin: dict[str, str]
    viewer: dict[str, str]
    key: dict[str, str]
    key_id: uuid.UUID
    owner_email: str


@pytest.fixture(scope="session")
def box() -> SecretBox:
    return SecretBox(TEST_SECRET_KEY)


@pytest.fixture(scope="session")
async def api_redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def api_context(pg_pool: asyncpg.Pool, api_redis: Redis, box: SecretBox) -> ApiContext:
    return ApiContext(pool=pg_pool, redis=api_redis, box=box, settings=TEST_SETTINGS)


def client_for(app: Litestar, address: tuple[str, int] = ("127.0.0.1", 50000)) -> httpx.AsyncClient:
    """An in-process client; `address` is the client address the app sees."""
    # httpx types the ASGI app more narrowly than Litestar's __call__ is declared.
    transport = httpx.ASGITransport(app=cast(Any, app), client=address)
    return httpx.AsyncClient(transport=transport, base_url="http://api.test")


@pytest.fixture(scope="session")
def app(api_context: ApiContext) -> Litestar:
    return create_app(api_context)


@pytest.fixture(scope="session")
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


MakeTenant = Callable[..., Awaitable[TenantHandle]]


@pytest.fixture(scope="session")
def make_tenant(pg_pool: asyncpg.Pool, client: httpx.AsyncClient) -> MakeTenant:
    password_hash: list[str] = []

    async def make(*, rpm: int = 100_000, rpd: int = 1_000_000) -> TenantHandle:
        if not password_hash:
            password_hash.append(await hash_password(PASSWORD))
        name = f"tenant-{uuid.uuid4().hex[:8]}"
        tenants = TenantsRepository(pg_pool)
        tenant = await tenants.create(name)
        users = UserRepository(pg_pool)
        tokens = {}
        for role in ("owner", "admin", "viewer"):
            email = f"{role}@{name}.example"
            await users.create(
                tenant.id, {"email": email, "password_hash": password_hash[0], "role": role}
            )
            tokens[role] = await login(client, email)
        new = generate_api_key()
        key = await ApiKeyRepository(pg_pool).create(
            tenant.id,
            {
                "name": "tests",
                "prefix": new.prefix,
                "key_hash": new.key_hash,
                "role": "admin",
                "rpm": rpm,
                "rpd": rpd,
            },
        )
        return TenantHandle(
            id=tenant.id,
            name=name,
            owner=bearer(tokens["owner"]),
            admin=bearer(tokens["admin"]),
            viewer=bearer(tokens["viewer"]),
            key=bearer(new.key),
            key_id=key.id,
            owner_email=f"owner@{name}.example",
        )

    return make


@pytest.fixture(scope="session")
async def tenant(make_tenant: MakeTenant) -> TenantHandle:
    return await make_tenant()


@pytest.fixture(scope="session")
async def other_tenant(make_tenant: MakeTenant) -> TenantHandle:
    return await make_tenant()


def with_settings(context: ApiContext, **changes: Any) -> ApiContext:
    return replace(context, settings=replace(context.settings, **changes))


@pytest.fixture
async def idp() -> AsyncIterator[FakeOidcProvider]:
    """An OpenID Connect provider on 127.0.0.1."""
    provider = FakeOidcProvider()
    await provider.start()
    yield provider
    await provider.stop()


@pytest.fixture
def sso_app(api_context: ApiContext) -> Litestar:
    # The provider is on 127.0.0.1: a private address, as an on-premise IdP would be.
    return create_app(with_settings(api_context, allow_private_urls=True))


OFFLINE_AGENT = {
    "name": "Receptionist",
    "system_prompt": "You answer the phone for a salon.",
    "welcome_message": "Hello, salon speaking.",
    "welcome_interruptible": False,
    "stt": {"vendor": "pocketsphinx"},
    "llm": {"vendor": "scripted"},
    "tts": {"vendor": "piper"},
    "barge_in_sensitivity": "high",
}


async def create_agent(
    client: httpx.AsyncClient, headers: dict[str, str], **overrides: object
) -> dict[str, Any]:
    body = {**OFFLINE_AGENT, "name": f"agent-{uuid.uuid4().hex[:8]}", **overrides}
    response = await client.post("/api/v1/agents", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result
