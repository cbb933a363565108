"""Call records and the STT connection events of each call."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec

from store.models import CallRecord, SttEvent
from store.repositories.base import Page, TenantRepository

# Columns a finished call's record sets; `upsert` writes them all at once.
_RECORD_COLUMNS = tuple(
    f.name
    for f in msgspec.structs.fields(CallRecord)
    if f.name not in {"id", "tenant_id", "created_at", "updated_at"}
)


class CallRepository(TenantRepository[CallRecord]):
    table = "calls"
    row_type = CallRecord
    writable = frozenset(_RECORD_COLUMNS)
    filterable = frozenset({"status", "direction", "agent_id", "outcome", "transport"})
    sortable = frozenset({"created_at", "started_at", "ended_at", "duration_ms", "status"})

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
        sort: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[CallRecord]:
        """`list` plus a date range on created_at and a case-insensitive transcript search."""
        conditions: list[tuple[str, Any]] = []
        if since is not None:
            conditions.append(("created_at >= {}", since))
        if until is not None:
            conditions.append(("created_at < {}", until))
        if text:
            escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            conditions.append(("transcript::text ILIKE {}", f"%{escaped}%"))
        return await self._page(tenant_id, filters, conditions, sort, limit, offset)


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
