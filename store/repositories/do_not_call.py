"""The tenant's do-not-call list: numbers in their stored E.164 form (store/numbers.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from typing import ClassVar, Literal

import msgspec

from store.numbers import normalize_number
from store.repositories.base import Page, TenantRepository

DncSource = Literal["api", "import", "caller"]
# The whole list is exported in one go; a tenant's list past this is a database job.
MAX_EXPORT_ROWS = 1_000_000


class DoNotCallEntry(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    tenant_id: uuid.UUID
    number: str
    source: str
    reason: str
    call_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class DoNotCallRepository(TenantRepository[DoNotCallEntry]):
    table = "do_not_call"
    row_type = DoNotCallEntry
    writable: ClassVar[frozenset[str]] = frozenset({"number", "source", "reason", "call_id"})
    filterable: ClassVar[frozenset[str]] = frozenset({"number", "source"})
    sortable: ClassVar[frozenset[str]] = frozenset({"created_at", "number"})

    async def add(
        self,
        tenant_id: uuid.UUID,
        number: str,
        *,
        source: DncSource,
        reason: str = "",
        call_id: uuid.UUID | None = None,
    ) -> tuple[DoNotCallEntry, bool]:
        """Put `number` on the list; the entry and whether it is new (a repeat changes
        nothing)."""
        record = await self._pool.fetchrow(
            "INSERT INTO do_not_call (id, tenant_id, number, source, reason, call_id) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, number) DO NOTHING "
            "RETURNING *",
            uuid.uuid4(),
            tenant_id,
            normalize_number(number),
            source,
            reason,
            call_id,
        )
        if record is not None:
            row = self._row(record)
            assert row is not None
            return row, True
        existing = await self.find(tenant_id, number)
        assert existing is not None
        return existing, False

    async def add_many(
        self, tenant_id: uuid.UUID, numbers: Iterable[str], *, source: DncSource, reason: str
    ) -> int:
        """Put every number on the list in one transaction; returns how many were new."""
        unique = sorted({normalize_number(n) for n in numbers})
        async with self._pool.acquire() as conn, conn.transaction():
            added = await conn.fetch(
                "INSERT INTO do_not_call (id, tenant_id, number, source, reason) "
                "SELECT gen_random_uuid(), $1, n, $2, $3 FROM unnest($4::text[]) AS n "
                "ON CONFLICT (tenant_id, number) DO NOTHING RETURNING id",
                tenant_id,
                source,
                reason,
                unique,
            )
        return len(added)

    async def find(self, tenant_id: uuid.UUID, number: str) -> DoNotCallEntry | None:
        record = await self._pool.fetchrow(
            "SELECT * FROM do_not_call WHERE tenant_id = $1 AND number = $2",
            tenant_id,
            normalize_number(number),
        )
        return self._row(record)

    async def listed(self, tenant_id: uuid.UUID, numbers: Sequence[str]) -> set[str]:
        """Which of `numbers` (stored form) are on the list."""
        rows = await self._pool.fetch(
            "SELECT number FROM do_not_call WHERE tenant_id = $1 AND number = ANY($2::text[])",
            tenant_id,
            list(numbers),
        )
        return {r["number"] for r in rows}

    async def remove(self, tenant_id: uuid.UUID, number: str) -> DoNotCallEntry | None:
        record = await self._pool.fetchrow(
            "DELETE FROM do_not_call WHERE tenant_id = $1 AND number = $2 RETURNING *",
            tenant_id,
            normalize_number(number),
        )
        return self._row(record)

    async def search(
        self, tenant_id: uuid.UUID, *, number: str | None, limit: int, offset: int
    ) -> Page[DoNotCallEntry]:
        conditions: list[tuple[str, object]] = []
        if number:
            conditions.append(("number LIKE {}", f"%{_like_escaped(number)}%"))
        return await self._page(tenant_id, None, conditions, "number", limit, offset)

    def every(self, tenant_id: uuid.UUID) -> AsyncIterator[DoNotCallEntry]:
        """The whole list in number order, read through a cursor (for the CSV export)."""
        return self._each(tenant_id, None, [], "number", MAX_EXPORT_ROWS)


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
