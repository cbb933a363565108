"""Call records and the STT connection events of each call."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from types import MappingProxyType
from typing import Any

import msgspec

from store.models import CallRecord, SttEvent
from store.repositories.base import Page, TenantRepository

# What the post-call worker writes (store/repositories/post_call.py): a record replayed from
# the outbox after it ran must not erase it.
POST_CALL_COLUMNS = frozenset({"analysis", "cost"})
# Columns a finished call's record sets; `upsert` writes them all at once.
_RECORD_COLUMNS = tuple(
    f.name
    for f in msgspec.structs.fields(CallRecord)
    if f.name not in {"id", "tenant_id", "created_at", "updated_at", *POST_CALL_COLUMNS}
)


# When a call began: its first status (ringing in, dialing out), or when it was queued, or for a
# record that has neither, when it was written. Lists, date filters and analytics per day go by
# this, not by the record's creation time (written when the call ends, or imported later).
# Indexed per tenant (migration 0008).
CALL_BEGAN = "coalesce(started_at, queued_at, created_at)"


def _like_escaped(text: str) -> str:
    """`text` matched literally inside a LIKE pattern."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class CallRepository(TenantRepository[CallRecord]):
    table = "calls"
    row_type = CallRecord
    writable = frozenset(_RECORD_COLUMNS)
    filterable = frozenset({"id", "status", "direction", "agent_id", "outcome", "transport"})
    sortable = frozenset({"created_at", "started_at", "ended_at", "duration_ms", "status"})
    sort_expressions = MappingProxyType({"started_at": CALL_BEGAN})
    default_sort = "-started_at"

    async def upsert(self, record: CallRecord) -> CallRecord:
        """Insert or replace a call's record by id. Idempotent, so the outbox can replay it."""
        values = [getattr(record, column) for column in _RECORD_COLUMNS]
        placeholders = ", ".join(f"${i}" for i in range(3, len(values) + 3))
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _RECORD_COLUMNS)
        row = await self._execute_returning(
            f"INSERT INTO calls (id, tenant_id, {', '.join(_RECORD_COLUMNS)}) "
            f"VALUES ($1, $2, {placeholders}) "
            f"ON CONFLICT (id) DO UPDATE SET {updates}, updated_at = now() "
            "WHERE calls.tenant_id = EXCLUDED.tenant_id RETURNING *",
            [record.id, record.tenant_id, *values],
        )
        stored = self._row(row)
        if stored is None:
            raise PermissionError("a call with this id belongs to another tenant")
        return stored

    async def search(
        self,
        tenant_id: uuid.UUID,
        *,
        filters: dict[str, Any] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        text: str | None = None,
        number: str | None = None,
        sort: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[CallRecord]:
        """`list` plus a date range on when the call began (`CALL_BEGAN`), a case-insensitive
        transcript search and `number` found in either party's number."""
        conditions = _conditions(since, until, text, number)
        return await self._page(tenant_id, filters, conditions, sort, limit, offset)

    def each(
        self,
        tenant_id: uuid.UUID,
        *,
        filters: dict[str, Any] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        text: str | None = None,
        number: str | None = None,
        sort: str | None = None,
        limit: int,
    ) -> AsyncIterator[CallRecord]:
        """Every call `search` would find, up to `limit`, one at a time (for exports)."""
        conditions = _conditions(since, until, text, number)
        return self._each(tenant_id, filters, conditions, sort, limit)


def _conditions(
    since: datetime | None, until: datetime | None, text: str | None, number: str | None
) -> list[tuple[str, Any]]:
    conditions: list[tuple[str, Any]] = []
    if since is not None:
        conditions.append((f"{CALL_BEGAN} >= {{}}", since))
    if until is not None:
        conditions.append((f"{CALL_BEGAN} < {{}}", until))
    if text:
        conditions.append(("transcript::text ILIKE {}", f"%{_like_escaped(text)}%"))
    if number:
        pattern = f"%{_like_escaped(number)}%"
        conditions.append(("(from_number LIKE {0} OR to_number LIKE {0})", pattern))
    return conditions


class SttEventRepository(TenantRepository[SttEvent]):
    table = "stt_events"
    generated_id = True
    row_type = SttEvent
    writable = frozenset({"call_id", "kind", "vendor", "detail"})
    filterable = frozenset({"call_id", "kind", "vendor"})

    async def record(
        self, tenant_id: uuid.UUID, call_id: uuid.UUID, kind: str, vendor: str, detail: str = ""
    ) -> None:
        await self._pool.execute(
            "INSERT INTO stt_events (tenant_id, call_id, kind, vendor, detail) "
            "VALUES ($1, $2, $3, $4, $5)",
            tenant_id,
            call_id,
            kind,
            vendor,
            detail,
        )
