"""Webhook deliveries: one row per (webhook, event), updated as attempts are made.

Deliveries of one webhook that share an ordering key (a call id) form a chain: only its oldest
pending delivery (by `seq`) can be claimed, so a call's events reach a receiver in the order they
were queued, whichever process delivers them and however often one is retried.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from store.models import WebhookDelivery
from store.repositories.base import TenantRepository


class WebhookDeliveryRepository(TenantRepository[WebhookDelivery]):
    table = "webhook_deliveries"
    row_type = WebhookDelivery
    writable = frozenset(
        {
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "last_url",
            "delivered_at",
        }
    )
    filterable = frozenset({"webhook_id", "status", "event_type", "event_id", "ordering_key"})
    sortable = frozenset({"created_at", "next_attempt_at"})

    async def enqueue(
        self,
        tenant_id: uuid.UUID,
        webhook_id: uuid.UUID,
        event_id: uuid.UUID,
        event_type: str,
        payload: dict[str, Any],
        *,
        ordering_key: str | None = None,
    ) -> bool:
        """Persist a delivery to make; False when this event was already queued for the hook.

        Deliveries to the same hook with the same `ordering_key` are made one at a time, in the
        order they were enqueued; without a key a delivery waits for nothing.
        """
        result = await self._pool.execute(
            "INSERT INTO webhook_deliveries (id, tenant_id, webhook_id, event_id, event_type, "
            "payload, ordering_key) VALUES ($1, $2, $3, $4, $5, $6, $7) "
            "ON CONFLICT (webhook_id, event_id) DO NOTHING",
            uuid.uuid4(),
            tenant_id,
            webhook_id,
            event_id,
            event_type,
            payload,
            ordering_key,
        )
        return bool(result.endswith(" 1"))

    async def claim_due(
        self, now: datetime, limit: int, lease_until: datetime
    ) -> list[WebhookDelivery]:
        """Deliveries due now, across tenants, pushed past `lease_until` so that no other
        worker takes them meanwhile (a crashed worker's claims come back when it expires).

        A delivery is skipped while an older one of its chain is still pending (claimed, or
        waiting for a retry); a failed or delivered one no longer holds the chain. Returned in
        `seq` order.
        """
        records = await self._pool.fetch(
            "WITH claimed AS (UPDATE webhook_deliveries SET next_attempt_at = $3, "
            "updated_at = now() WHERE id IN (SELECT d.id FROM webhook_deliveries d "
            "WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND NOT EXISTS ("
            "SELECT 1 FROM webhook_deliveries older WHERE older.status = 'pending' "
            "AND older.webhook_id = d.webhook_id AND older.ordering_key = d.ordering_key "
            "AND older.seq < d.seq) "
            "ORDER BY d.next_attempt_at, d.seq LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING *) "
            "SELECT * FROM claimed ORDER BY seq",
            now,
            limit,
            lease_until,
        )
        return [row for row in map(self._row, records) if row is not None]
