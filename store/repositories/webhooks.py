"""Webhook deliveries: one row per (webhook, event), updated as attempts are made."""

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
        {"status", "attempts", "next_attempt_at", "last_status_code", "last_error", "delivered_at"}
    )
    filterable = frozenset({"webhook_id", "status", "event_type", "event_id"})
    sortable = frozenset({"created_at", "next_attempt_at"})

    async def enqueue(
        self,
        tenant_id: uuid.UUID,
        webhook_id: uuid.UUID,
        event_id: uuid.UUID,
        event_type: str,
        payload: dict[str, Any],
    ) -> bool:
        """Persist a delivery to make; False when this event was already queued for the hook."""
        result = await self._pool.execute(
            "INSERT INTO webhook_deliveries (id, tenant_id, webhook_id, event_id, event_type, "
            "payload) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (webhook_id, event_id) "
            "DO NOTHING",
            uuid.uuid4(),
            tenant_id,
            webhook_id,
            event_id,
            event_type,
            payload,
        )
        return bool(result.endswith(" 1"))

    async def claim_due(
        self, now: datetime, limit: int, lease_until: datetime
    ) -> list[WebhookDelivery]:
        """Deliveries due now, across tenants, pushed past `lease_until` so that no other
        worker takes them meanwhile (a crashed worker's claims come back when it expires)."""
        records = await self._pool.fetch(
            "UPDATE webhook_deliveries SET next_attempt_at = $3, updated_at = now() "
            "WHERE id IN (SELECT id FROM webhook_deliveries WHERE status = 'pending' "
            "AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2 "
            "FOR UPDATE SKIP LOCKED) RETURNING *",
            now,
            limit,
            lease_until,
        )
        return [row for row in map(self._row, records) if row is not None]
