"""The delivery worker: claims due deliveries from PostgreSQL, POSTs them signed, retries.

Deliveries live in `webhook_deliveries`; a claim pushes a row's `next_attempt_at` past a lease,
so a worker that dies mid-delivery loses nothing: the row comes due again when the lease ends.
Receivers must deduplicate by `X-Vocals-Event-Id` (delivery is at least once). A call's events
reach a webhook in the order they were emitted: the claim hands out only the oldest pending
delivery of each (webhook, call) chain, and a worker never sends two of one chain at once.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import msgspec
import structlog

from api.webhooks.signing import EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from api.webhooks.ssrf import BlockedDestination, pinned_request, resolve_public
from ari_app.tasks import cancel_and_wait, supervised_task
from store.models import WebhookDelivery
from store.repositories.config import WebhookRepository
from store.repositories.webhooks import WebhookDeliveryRepository
from store.secrets import SecretBox

log = structlog.get_logger(__name__)

# Eight attempts over about 21 minutes (5 s doubling to 10 min): rides out a deploy or a blip,
# gives up before the event is stale.
DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_BACKOFF_BASE_S = 5.0
DEFAULT_BACKOFF_MAX_S = 600.0
# Receivers should acknowledge fast and work later; ten seconds is generous.
DEFAULT_TIMEOUT_S = 10.0
# Longer than one attempt can take, so a live worker's claim never expires under it.
DEFAULT_LEASE_S = 60.0
DEFAULT_POLL_INTERVAL_S = 1.0
DEFAULT_BATCH = 20
# Statuses worth retrying besides 5xx: the receiver asked us to come back later.
_RETRY_STATUSES = frozenset({408, 425, 429})
_MAX_ERROR_CHARS = 500
# PostgreSQL unreachable: the whole worker waits a poll interval and tries again.
_DATABASE_TROUBLE = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


class WebhookEnvelope(msgspec.Struct):
    """The JSON body a receiver gets."""

    id: uuid.UUID
    type: str
    created_at: datetime
    data: dict[str, Any]


class Attempt(msgspec.Struct, frozen=True):
    """The result of one delivery attempt."""

    delivered: bool
    retry: bool
    status_code: int | None = None
    error: str | None = None
    # The webhook's URL at the time of the attempt; None when none was tried.
    url: str | None = None


class WebhookWorker:
    """Delivers persisted webhook deliveries until stopped. Safe to run in many processes."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        box: SecretBox,
        *,
        client: httpx.AsyncClient | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        backoff_base_s: float = DEFAULT_BACKOFF_BASE_S,
        backoff_max_s: float = DEFAULT_BACKOFF_MAX_S,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        lease_s: float = DEFAULT_LEASE_S,
        poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
        batch: int = DEFAULT_BATCH,
        allow_private: bool = False,
    ) -> None:
        self._pool = pool
        # The operator's VOCALS_ALLOW_PRIVATE_URLS: receivers on loopback or private networks.
        self._allow_private = allow_private
        self._box = box
        self._own_client = client is None
        # Redirects are not followed: a 3xx could point at an address the SSRF check refused.
        self._client = client or httpx.AsyncClient(follow_redirects=False)
        self._max_attempts = max_attempts
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._timeout_s = timeout_s
        self._lease_s = lease_s
        self._poll_interval_s = poll_interval_s
        self._batch = batch
        self._task: asyncio.Task[None] | None = None
        self._deliveries = WebhookDeliveryRepository(pool)

    def start(self) -> asyncio.Task[None]:
        """Run the delivery loop in a task on the current event loop."""
        if self._task is None or self._task.done():
            self._task = supervised_task("webhook-worker", self._run)
        return self._task

    async def stop(self) -> None:
        """Stop after the current attempt is abandoned; unfinished rows come due again."""
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
        if self._own_client:
            await self._client.aclose()

    async def _run(self) -> None:
        while True:
            try:
                handled = await self.run_once()
            except _DATABASE_TROUBLE as exc:
                log.warning("webhook worker cannot reach PostgreSQL", error=str(exc))
                handled = 0
            except Exception:
                # The worker outlives any one bad round; what failed is retried when due.
                log.exception("webhook round failed")
                handled = 0
            # After any work, claim again at once: a delivered event may have released the
            # next one of its call, which should not wait a poll interval behind it.
            if handled == 0:
                await asyncio.sleep(self._poll_interval_s)

    async def run_once(self) -> int:
        """Claim and attempt every due delivery (up to a batch); returns how many."""
        now = datetime.now(UTC)
        claimed = await self._deliveries.claim_due(
            now, self._batch, now + timedelta(seconds=self._lease_s)
        )
        await asyncio.gather(*(self.deliver_in_order(chain) for chain in chains(claimed)))
        return len(claimed)

    async def deliver_in_order(self, chain: Sequence[WebhookDelivery]) -> None:
        """Attempt one chain's claimed deliveries one after another. Once one stays pending
        (to be retried), the rest are released unattempted: they must not overtake it."""
        for index, delivery in enumerate(chain):
            updated = await self.deliver(delivery)
            if updated.status == "pending":
                now = datetime.now(UTC)
                for rest in chain[index + 1 :]:
                    await self._deliveries.update(rest.tenant_id, rest.id, {"next_attempt_at": now})
                return

    async def deliver(self, delivery: WebhookDelivery) -> WebhookDelivery:
        """Make one attempt and record its outcome on the row; returns the updated row."""
        try:
            attempt = await self._attempt(delivery)
        except _DATABASE_TROUBLE:
            raise
        except Exception as exc:
            # E.g. a secret sealed under a key this process lacks: that row is retried (and
            # given up like any other), every other delivery goes on.
            log.exception("webhook attempt could not be made", delivery_id=str(delivery.id))
            error = f"{type(exc).__name__}: {exc}"[:_MAX_ERROR_CHARS]
            attempt = Attempt(delivered=False, retry=True, error=error)
        attempts = delivery.attempts + 1
        now = datetime.now(UTC)
        values: dict[str, Any] = {
            "attempts": attempts,
            "last_status_code": attempt.status_code,
            "last_error": attempt.error,
        }
        if attempt.url is not None:
            values["last_url"] = attempt.url
        if attempt.delivered:
            values |= {"status": "delivered", "delivered_at": now}
        elif attempt.retry and attempts < self._max_attempts:
            values |= {"status": "pending", "next_attempt_at": now + self._backoff(attempts)}
        else:
            values |= {"status": "failed"}
        log.info(
            "webhook attempt",
            delivery_id=str(delivery.id),
            event_id=str(delivery.event_id),
            status=values["status"],
            status_code=attempt.status_code,
            error=attempt.error,
            attempts=attempts,
        )
        updated = await self._deliveries.update(delivery.tenant_id, delivery.id, values)
        return updated or delivery

    def _backoff(self, attempts: int) -> timedelta:
        delay = min(self._backoff_max_s, self._backoff_base_s * 2 ** (attempts - 1))
        # Up to 10% jitter so receivers coming back up are not hit by every retry at once.
        return timedelta(seconds=delay * (1 + random.random() / 10))

    async def _attempt(self, delivery: WebhookDelivery) -> Attempt:
        hooks = WebhookRepository(self._pool, self._box)
        hook = await hooks.get(delivery.tenant_id, delivery.webhook_id)
        if hook is None or not hook.active:
            return Attempt(delivered=False, retry=False, error="webhook removed or disabled")
        try:
            addresses = await resolve_public(hook.url, allow_private=self._allow_private)
        except BlockedDestination as exc:
            return Attempt(
                delivered=False, retry=False, error=str(exc)[:_MAX_ERROR_CHARS], url=hook.url
            )
        secret = hooks.reveal(hook, "secret") or ""
        body = msgspec.json.encode(
            WebhookEnvelope(
                id=delivery.event_id,
                type=delivery.event_type,
                created_at=delivery.created_at,
                data=delivery.payload,
            )
        )
        timestamp = int(time.time())
        target = pinned_request(hook.url, addresses[0])
        headers = {
            "Host": target.host_header,
            "Content-Type": "application/json",
            "User-Agent": "Vocals-Webhooks/1",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(secret, timestamp, body),
            EVENT_ID_HEADER: str(delivery.event_id),
        }
        try:
            response = await self._client.post(
                target.url,
                content=body,
                headers=headers,
                timeout=self._timeout_s,
                extensions={"sni_hostname": target.sni_hostname},
            )
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:_MAX_ERROR_CHARS]
            return Attempt(delivered=False, retry=True, error=error, url=hook.url)
        status = response.status_code
        if 200 <= status < 300:
            return Attempt(delivered=True, retry=False, status_code=status, url=hook.url)
        retry = status >= 500 or status in _RETRY_STATUSES
        return Attempt(
            delivered=False,
            retry=retry,
            status_code=status,
            error=f"receiver answered {status}",
            url=hook.url,
        )


def chains(deliveries: Iterable[WebhookDelivery]) -> list[list[WebhookDelivery]]:
    """Deliveries grouped by what must go one after another (same webhook and ordering key),
    each group in `seq` order; a delivery without an ordering key is a group of its own."""
    keyed: dict[tuple[uuid.UUID, str], list[WebhookDelivery]] = {}
    alone: list[list[WebhookDelivery]] = []
    for delivery in sorted(deliveries, key=lambda d: d.seq):
        if delivery.ordering_key is None:
            alone.append([delivery])
        else:
            keyed.setdefault((delivery.webhook_id, delivery.ordering_key), []).append(delivery)
    return [*keyed.values(), *alone]


def start_webhook_worker(pool: asyncpg.Pool, box: SecretBox, **options: Any) -> WebhookWorker:
    """Create a `WebhookWorker` (options as its keyword arguments) and start it; `await
    worker.stop()` at shutdown."""
    worker = WebhookWorker(pool, box, **options)
    worker.start()
    return worker
