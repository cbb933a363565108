"""The `CallEventSink` of a Vocals process: each call lifecycle event becomes one persisted
webhook delivery per subscribed webhook (signed and retried by the worker) and one message on
the tenant's Redis channel, which the UI's live dashboard follows."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import msgspec
from redis.asyncio import Redis

from api.webhooks.emit import emit
from ari_app.ports import CallEvent
from store.secrets import SecretBox


def tenant_events_channel(tenant_id: uuid.UUID) -> str:
    """The Redis pub/sub channel a tenant's live call events are published on."""
    return f"vocals:tenant:{tenant_id}:events"


class LiveEventMessage(msgspec.Struct, frozen=True):
    """What a dashboard receives on the channel: the webhook envelope minus the timestamp
    header (the payload carries `occurred_at`)."""

    id: uuid.UUID
    type: str
    data: dict[str, object]


class WebhookEventSink:
    """Persists deliveries through `emit` (idempotent per event id) and publishes live."""

    def __init__(self, pool: asyncpg.Pool, box: SecretBox, redis: Redis) -> None:
        self._pool = pool
        self._box = box
        self._redis = redis

    async def publish(self, event: CallEvent) -> None:
        await self.publish_event(event.tenant_id, event.type, event.payload, event.id)

    async def publish_event(
        self, tenant_id: uuid.UUID, event_type: str, payload: dict[str, Any], event_id: uuid.UUID
    ) -> None:
        """Any tenant event (a campaign's too), the same two ways."""
        await emit(self._pool, self._box, tenant_id, event_type, payload, event_id)
        message = msgspec.json.encode(LiveEventMessage(id=event_id, type=event_type, data=payload))
        await self._redis.publish(tenant_events_channel(tenant_id), message)
