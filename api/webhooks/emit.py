"""Turning a call lifecycle event into one persisted delivery per subscribed webhook."""

from __future__ import annotations

import uuid
from typing import Any, Final, Literal, get_args

import asyncpg

from store.repositories.config import WebhookRepository
from store.repositories.webhooks import WebhookDeliveryRepository
from store.secrets import SecretBox

EventType = Literal[
    "call.started",
    "call.answered",
    "call.transferred",
    "call.ended",
    "call.failed",
    "voicemail.detected",
    # After call.ended, when the post-call analysis is on the record (ari_app/post_call.py).
    "call.analyzed",
    "campaign.started",
    "campaign.completed",
    "campaign.lead.finished",
]
EVENT_TYPES: Final = get_args(EventType)
# Sent by `POST /webhooks/{id}/test` only; no webhook subscribes to it.
TEST_EVENT = "webhook.test"


async def emit(
    pool: asyncpg.Pool,
    box: SecretBox,
    tenant_id: uuid.UUID,
    event_type: str,
    payload: dict[str, Any],
    event_id: uuid.UUID,
) -> int:
    """Queue `event_type` for every active webhook of the tenant subscribed to it.

    Idempotent per `event_id`: emitting the same event again queues nothing new. Returns how
    many deliveries were queued by this call. The worker delivers them, the events of one call
    (`payload["call_id"]`) to each webhook one after another, in the order they were emitted.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    hooks = await WebhookRepository(pool, box).subscribed(tenant_id, event_type)
    deliveries = WebhookDeliveryRepository(pool)
    # A call's events reach each webhook in the order they are emitted here.
    call_id = payload.get("call_id")
    ordering_key = None if call_id is None else str(call_id)
    queued = 0
    for hook in hooks:
        if await deliveries.enqueue(
            tenant_id, hook.id, event_id, event_type, payload, ordering_key=ordering_key
        ):
            queued += 1
    return queued
