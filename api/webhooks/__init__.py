"""Webhook delivery: events persisted per subscribed webhook, signed, retried, SSRF-checked."""

from api.webhooks.emit import EVENT_TYPES, emit
from api.webhooks.worker import WebhookWorker, start_webhook_worker

__all__ = ["EVENT_TYPES", "WebhookWorker", "emit", "start_webhook_worker"]
