"""The post-call work queue kept in the calls table, and each tenant's prices.

A finished call whose `post_call_state` is NULL is still to be priced (and analysed, when its
agent asks). Any process may claim it: the claim counts an attempt and pushes
`post_call_not_before` a lease ahead, so a process that stops mid-work leaves the call to be
claimed again when the lease ends, and no two processes hold it at once.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

import asyncpg
import msgspec

from store.models import CallRecord

# Statuses a call record has once the call is over (ari_app.call.CallStatus's final ones and
# the API's "cancelled").
FINISHED_STATUSES: Final = ("completed", "failed", "cancelled", "no-answer", "busy", "voicemail")
DONE: Final = "done"
# Written out, not a parameter, so the planner uses the partial index of migration 0015.
_AWAITING_POST_CALL = "post_call_state IS NULL AND status IN ({})".format(
    ", ".join(f"'{status}'" for status in FINISHED_STATUSES)
)


class PostCallQueue:
    """Claims and completes post-call work across tenants (the worker serves them all); every
    write after the claim names the call's tenant."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def claim(self, *, limit: int, lease_s: float) -> list[tuple[CallRecord, int]]:
        """Up to `limit` calls due for work, each with its attempt number (1 the first)."""
        rows = await self._pool.fetch(
            "UPDATE calls SET post_call_attempts = post_call_attempts + 1, "
            "post_call_not_before = now() + make_interval(secs => $2) "
            f"WHERE id IN (SELECT id FROM calls WHERE {_AWAITING_POST_CALL} "
            "AND coalesce(post_call_not_before, '-infinity') <= now() "
            "ORDER BY post_call_not_before NULLS FIRST LIMIT $1 FOR UPDATE SKIP LOCKED) "
            "RETURNING *",
            limit,
            lease_s,
        )
        return [(_record(row), int(row["post_call_attempts"])) for row in rows]

    async def retry_later(self, tenant_id: uuid.UUID, call_id: uuid.UUID, delay_s: float) -> None:
        await self._pool.execute(
            "UPDATE calls SET post_call_not_before = now() + make_interval(secs => $3) "
            "WHERE tenant_id = $1 AND id = $2",
            tenant_id,
            call_id,
            delay_s,
        )

    async def finish(
        self,
        tenant_id: uuid.UUID,
        call_id: uuid.UUID,
        *,
        cost: dict[str, Any],
        analysis: dict[str, Any] | None,
    ) -> None:
        await self._pool.execute(
            "UPDATE calls SET post_call_state = $3, cost = $4, analysis = $5, "
            "post_call_not_before = NULL WHERE tenant_id = $1 AND id = $2",
            tenant_id,
            call_id,
            DONE,
            cost,
            analysis,
        )


def _record(row: asyncpg.Record) -> CallRecord:
    return msgspec.convert(dict(row), CallRecord, strict=False)


class TenantPriceRepository:
    """A tenant's own price rows (see providers/pricing.py), stored as one list."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def get(self, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
        prices = await self._pool.fetchval(
            "SELECT prices FROM tenant_prices WHERE tenant_id = $1", tenant_id
        )
        return list(prices) if isinstance(prices, list) else []

    async def replace(self, tenant_id: uuid.UUID, prices: list[dict[str, Any]]) -> None:
        await self._pool.execute(
            "INSERT INTO tenant_prices (tenant_id, prices) VALUES ($1, $2) "
            "ON CONFLICT (tenant_id) DO UPDATE SET prices = EXCLUDED.prices, updated_at = now()",
            tenant_id,
            prices,
        )
