"""Webhook deliveries in order per (webhook, call): the 0004 migration over queued rows, and a
claim that hands out only the oldest pending delivery of each chain, across concurrent claims."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from store.db import create_pool
from store.migrate import available_migrations, migrate
from store.models import WebhookDelivery
from store.repositories.config import WebhookRepository
from store.repositories.tenants import TenantsRepository
from store.repositories.webhooks import WebhookDeliveryRepository
from store.secrets import SecretBox
from tests.store.conftest import ship_migrations_before

BOX = SecretBox("webhook-order-tests-key-0123456789")
LEASE = timedelta(minutes=5)


async def _hook(pool: asyncpg.Pool, tenant_id: uuid.UUID) -> uuid.UUID:
    hook = await WebhookRepository(pool, BOX).create(
        tenant_id, {"url": "https://example.com/h", "events": ["call.started"], "secret": "s"}
    )
    return hook.id


async def _claim(repo: WebhookDeliveryRepository, limit: int = 100) -> list[WebhookDelivery]:
    now = datetime.now(UTC)
    return await repo.claim_due(now, limit, now + LEASE)


async def test_migration_keeps_queued_deliveries_and_their_order(
    empty_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ship_migrations_before(monkeypatch, 4)
    conn = await asyncpg.connect(empty_database)
    try:
        await migrate(conn)
        tenant_id, hook_id, call_id = uuid.uuid4(), uuid.uuid4(), str(uuid.uuid4())
        await conn.execute("INSERT INTO tenants (id, name) VALUES ($1, 'old')", tenant_id)
        await conn.execute(
            "INSERT INTO webhooks (id, tenant_id, url, events, secret) "
            "VALUES ($1, $2, 'https://example.com/h', '{call.started}', '\\x00'::bytea)",
            hook_id,
            tenant_id,
        )
        base = datetime(2025, 1, 1, tzinfo=UTC)
        # (event type, payload, status, created_at offset): inserted out of created_at order,
        # two of them at the same instant.
        rows = [
            ("call.answered", {"call_id": call_id}, "pending", 2),
            ("call.started", {"call_id": call_id}, "failed", 0),
            ("webhook.test", {"message": "hi"}, "delivered", 1),
            ("call.ended", {"call_id": call_id}, "pending", 2),
        ]
        for event_type, payload, status, offset in rows:
            await conn.execute(
                "INSERT INTO webhook_deliveries (id, tenant_id, webhook_id, event_id, "
                "event_type, payload, status, attempts, created_at) "
                "VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, 1, $8)",
                uuid.uuid4(),
                tenant_id,
                hook_id,
                uuid.uuid4(),
                event_type,
                json.dumps(payload),
                status,
                base + timedelta(seconds=offset),
            )
        before = await conn.fetch("SELECT * FROM webhook_deliveries ORDER BY id")

        monkeypatch.undo()
        assert [m.version for m in await migrate(conn)] == [
            m.version for m in available_migrations() if m.version >= 4
        ]

        after = await conn.fetch("SELECT * FROM webhook_deliveries ORDER BY id")
        kept = [{k: dict(r)[k] for k in dict(b)} for r, b in zip(after, before, strict=True)]
        assert kept == [dict(b) for b in before]
        by_seq = await conn.fetch("SELECT * FROM webhook_deliveries ORDER BY seq")
        assert [r["seq"] for r in by_seq] == [1, 2, 3, 4]
        assert [r["created_at"] for r in by_seq] == sorted(r["created_at"] for r in by_seq)
        assert [r["event_type"] for r in by_seq][:2] == ["call.started", "webhook.test"]
        keys = {r["event_type"]: r["ordering_key"] for r in by_seq}
        assert keys == {
            "call.started": call_id,
            "webhook.test": None,
            "call.answered": call_id,
            "call.ended": call_id,
        }
        indexes = await conn.fetch(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'webhook_deliveries'"
        )
        assert "webhook_deliveries_chain_idx" in {r[0] for r in indexes}
    finally:
        await conn.close()

    pool = await create_pool(empty_database, max_size=2)
    try:
        repo = WebhookDeliveryRepository(pool)
        assert await repo.enqueue(
            tenant_id, hook_id, uuid.uuid4(), "call.ended", {}, ordering_key=call_id
        )
        newest = await repo.list_page(tenant_id, filters={"event_type": "call.ended"}, limit=10)
        assert max(d.seq for d in newest.items) == 5
        # The failed call.started no longer holds its call: the older pending one goes first.
        [claimed] = await _claim(repo)
        assert claimed.ordering_key == call_id
        assert claimed.seq == min(r["seq"] for r in by_seq if r["status"] == "pending")
    finally:
        await pool.close()


async def test_claim_hands_out_only_the_head_of_each_chain(own_pool: asyncpg.Pool) -> None:
    tenant = await TenantsRepository(own_pool).create("order")
    first, second = await _hook(own_pool, tenant.id), await _hook(own_pool, tenant.id)
    repo = WebhookDeliveryRepository(own_pool)
    call_a, call_b = str(uuid.uuid4()), str(uuid.uuid4())
    queued = [
        (first, call_a, "call.started"),
        (second, call_a, "call.started"),
        (first, call_b, "call.started"),
        (first, None, "webhook.test"),
        (first, call_a, "call.answered"),
        (second, call_a, "call.answered"),
        (first, None, "webhook.test"),
        (first, call_b, "call.answered"),
        (first, call_a, "call.ended"),
    ]
    for hook_id, call_id, event_type in queued:
        payload = {} if call_id is None else {"call_id": call_id}
        await repo.enqueue(
            tenant.id, hook_id, uuid.uuid4(), event_type, payload, ordering_key=call_id
        )

    heads = await _claim(repo)
    assert [(d.webhook_id, d.ordering_key, d.event_type) for d in heads] == [
        (first, call_a, "call.started"),
        (second, call_a, "call.started"),
        (first, call_b, "call.started"),
        (first, None, "webhook.test"),
        (first, None, "webhook.test"),
    ]
    assert [d.seq for d in heads] == sorted(d.seq for d in heads)
    # Claimed heads are pending under a lease: their chains stay held.
    assert await _claim(repo) == []

    a_first, a_second, b_first = heads[0], heads[1], heads[2]
    await repo.update(tenant.id, a_first.id, {"status": "delivered"})
    await repo.update(tenant.id, a_second.id, {"status": "failed"})
    # Waiting for a retry (due again right now would not matter: it is older, so it goes first).
    await repo.update(
        tenant.id, b_first.id, {"next_attempt_at": datetime.now(UTC) + timedelta(minutes=1)}
    )
    released = await _claim(repo)
    assert [(d.webhook_id, d.ordering_key, d.event_type) for d in released] == [
        (first, call_a, "call.answered"),
        (second, call_a, "call.answered"),
    ]
    await repo.update(tenant.id, b_first.id, {"next_attempt_at": datetime.now(UTC)})
    [retried] = await _claim(repo)
    assert retried.id == b_first.id


async def test_concurrent_claims_never_take_two_of_one_chain(empty_database: str) -> None:
    conn = await asyncpg.connect(empty_database)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    pool = await create_pool(empty_database, max_size=6)
    try:
        tenant = await TenantsRepository(pool).create("race")
        hook_id = await _hook(pool, tenant.id)
        repo = WebhookDeliveryRepository(pool)
        calls = [str(uuid.uuid4()) for _ in range(12)]
        for event_type in ("call.started", "call.answered", "call.ended"):
            for call_id in calls:
                await repo.enqueue(
                    tenant.id, hook_id, uuid.uuid4(), event_type, {}, ordering_key=call_id
                )
        seen: dict[str, list[str]] = {call_id: [] for call_id in calls}
        for _round in range(3):
            claims = await asyncio.gather(*(_claim(repo, limit=4) for _ in range(6)))
            claimed = [d for batch in claims for d in batch]
            assert len({d.id for d in claimed}) == len(claimed)
            keys = [d.ordering_key for d in claimed]
            assert len(set(keys)) == len(keys), "two deliveries of one chain claimed together"
            assert len(claimed) == len(calls)
            for delivery in claimed:
                assert delivery.ordering_key is not None
                seen[delivery.ordering_key].append(delivery.event_type)
                await repo.update(tenant.id, delivery.id, {"status": "delivered"})
        assert all(
            types == ["call.started", "call.answered", "call.ended"] for types in seen.values()
        )
    finally:
        await pool.close()
