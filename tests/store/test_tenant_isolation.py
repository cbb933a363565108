"""No repository lets one tenant read, change or delete another tenant's rows."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest

from store.repositories.audit import AuditLogRepository
from store.repositories.base import Conflict, TenantRepository
from store.repositories.calls import CallRepository, SttEventRepository
from store.repositories.config import (
    AgentRepository,
    ApiKeyRepository,
    InboundRouteRepository,
    ProviderCredentialRepository,
    SipTrunkRepository,
    UserRepository,
    WebhookRepository,
)
from store.repositories.tenants import TenantsRepository
from store.repositories.webhooks import WebhookDeliveryRepository
from store.secrets import SecretBox

BOX = SecretBox("k" * 32)
Factory = Callable[
    [asyncpg.Pool, uuid.UUID], Awaitable[tuple[TenantRepository[Any], Any, dict[str, Any]]]
]


def _n() -> str:
    return uuid.uuid4().hex[:8]


async def _agent(pool: asyncpg.Pool, tenant: uuid.UUID) -> Any:
    return await AgentRepository(pool).create(tenant, {"name": f"agent-{_n()}"})


async def _webhook(pool: asyncpg.Pool, tenant: uuid.UUID) -> Any:
    return await WebhookRepository(pool, BOX).create(
        tenant, {"url": "https://example.com/h", "events": ["call.ended"], "secret": "s"}
    )


async def agents(pool: asyncpg.Pool, tenant: uuid.UUID) -> Any:
    return AgentRepository(pool), await _agent(pool, tenant), {"system_prompt": "changed"}


async def providers(pool: asyncpg.Pool, tenant: uuid.UUID) -> Any:
    repo = ProviderCredentialRepository(pool, BOX)
    row = await repo.create(
        tenant, {"name": f"p-{_n()}", "kind": "llm", "vendor": "scripted", "api_key": "sk-1"}
    )
    return repo, row, {"model": "changed"}


async def trunks(pool: asyncpg.Pool, tenant: uuid.UUID) -> Any:
    repo = SipTrunkRepository(pool, BOX)
    row = await repo.create(tenant, {"name": f"t-{_n()}", "kind": "ip", "host": "sip.example.com"})
    return repo, row, {"host": "changed.example.com"}


async def routes(pool: asyncpg.Pool, tenant: uuid.UUID) -> Any:
    agent = await _agent(pool, tenant)
    repo = InboundRouteRepository(pool)
    row = await repo.create(
        tenant, {"did": f"+1555{uuid.uuid4().int % 10**7:07d}", "agent_id": agent.id}
    )
    return repo, row, {"did": "+15550000000"}


async def webhooks(pool: asyncpg.Pool, tenant: uuid.UUID) -> Any:
    return WebhookRepository(pool, BOX), await _webhook(pool, tenant), {"active": False}


async def deliveries(pool: asyncpg.Pool, tenant: uuid.UUID) -> Any:
    hook = await _webhook(pool, tenant)
    repo = WebhookDeliveryRepository(pool)
    await repo.enqueue(tenant, hook.id, uuid.uuid4(), "call.ended", {"a": 1})
    row = (await repo.list_page(tenant, filters={"webhook_id": hook.id})).items[0]
    return repo, row, {"status": "failed"}


async def api_keys(pool: asyncpg.Pool, tenant: uuid.UUID) -> Any:
    repo = ApiKeyRepository(pool)
    row = await repo.create(tenant, {"name": "k", "prefix": f"vk_{_n()}", "key_hash": "h"})
    return repo, row, {"name": "changed"}


async def users(pool: asyncpg.Pool, tenant: uuid.UUID) -> Any:
    repo = UserRepository(pool)
    row = await repo.create(
        tenant, {"email": f"{_n()}@example.com", "password_hash": "x", "role": "viewer"}
    )
    return repo, row, {"role": "owner"}


async def calls(pool: asyncpg.Pool, tenant: uuid.UUID) -> Any:
    repo = CallRepository(pool)
    row = await repo.create(tenant, {"direction": "inbound", "status": "completed"})
    return repo, row, {"status": "failed"}


async def audit(pool: asyncpg.Pool, tenant: uuid.UUID) -> Any:
    repo = AuditLogRepository(pool)
    row = await repo.create(
        tenant, {"actor": "a", "action": "create", "entity_type": "agent", "entity_id": "1"}
    )
    return repo, row, {"action": "changed"}


async def stt_events(pool: asyncpg.Pool, tenant: uuid.UUID) -> Any:
    repo = SttEventRepository(pool)
    row = await repo.create(
        tenant, {"call_id": uuid.uuid4(), "kind": "opened", "vendor": "pocketsphinx"}
    )
    return repo, row, {"detail": "changed"}


FACTORIES = [
    agents,
    providers,
    trunks,
    routes,
    webhooks,
    deliveries,
    api_keys,
    users,
    calls,
    audit,
    stt_events,
]


@pytest.fixture
async def two_tenants(pg_pool: asyncpg.Pool) -> tuple[uuid.UUID, uuid.UUID]:
    tenants = TenantsRepository(pg_pool)
    a = await tenants.create(f"a-{_n()}")
    b = await tenants.create(f"b-{_n()}")
    return a.id, b.id


def _row_id(row: Any) -> Any:
    return row.id


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f.__name__)
async def test_other_tenant_cannot_read_update_or_delete(
    pg_pool: asyncpg.Pool, two_tenants: tuple[uuid.UUID, uuid.UUID], factory: Factory
) -> None:
    tenant_a, tenant_b = two_tenants
    repo, row, change = await factory(pg_pool, tenant_a)

    if isinstance(row.id, uuid.UUID):
        assert await repo.get(tenant_b, row.id) is None
        assert await repo.update(tenant_b, row.id, change) is None
        assert await repo.delete(tenant_b, row.id) is False
    assert (await repo.list_page(tenant_b)).total == 0

    page = await repo.list_page(tenant_a)
    assert [_row_id(r) for r in page.items if r.id == row.id] == [row.id]
    unchanged = next(r for r in page.items if r.id == row.id)
    assert unchanged == row


async def test_a_route_cannot_point_at_another_tenants_agent(
    pg_pool: asyncpg.Pool, two_tenants: tuple[uuid.UUID, uuid.UUID]
) -> None:
    tenant_a, tenant_b = two_tenants
    agent_of_b = await _agent(pg_pool, tenant_b)
    with pytest.raises(Conflict):
        await InboundRouteRepository(pg_pool).create(
            tenant_a, {"did": "+15559990001", "agent_id": agent_of_b.id}
        )


async def test_a_call_record_cannot_overwrite_another_tenants_call(
    pg_pool: asyncpg.Pool, two_tenants: tuple[uuid.UUID, uuid.UUID]
) -> None:
    from store.models import CallRecord

    tenant_a, tenant_b = two_tenants
    repo = CallRepository(pg_pool)
    mine = await repo.upsert(
        CallRecord(id=uuid.uuid4(), tenant_id=tenant_a, direction="inbound", status="completed")
    )
    with pytest.raises(PermissionError):
        await repo.upsert(
            CallRecord(id=mine.id, tenant_id=tenant_b, direction="inbound", status="failed")
        )
    assert (await repo.get(tenant_a, mine.id)) == mine
