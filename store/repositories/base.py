"""The one place SQL for tenant-owned tables is built.

Identifiers come only from class attributes (never from callers), values only as parameters,
and every statement carries `tenant_id = $1`, so no method can reach another tenant's rows.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar, Generic, Literal, TypeVar

import asyncpg
import msgspec

from store.secrets import SecretBox

RowT = TypeVar("RowT", bound=msgspec.Struct)

MAX_PAGE_SIZE = 200
# Rows a cursor fetches per round trip: few round trips, little memory per export.
CURSOR_PREFETCH = 500


class Page(msgspec.Struct, Generic[RowT]):
    items: list[RowT]
    total: int
    limit: int
    offset: int


class UnknownColumn(ValueError):
    """A caller asked to write, filter or sort by a column the repository does not allow."""

    def __init__(self, column: str, use: str) -> None:
        super().__init__(f"{column!r} cannot be used to {use}")
        self.column = column


# PostgreSQL names the columns of a broken rule as "Key (tenant_id, name)=(…) …".
_KEY_COLUMNS = re.compile(r"Key \(([^)]*)\)=")


class Conflict(Exception):
    """A write would break a uniqueness or reference rule (e.g. a duplicate name). `field` is
    the column at fault (the key's last one besides the tenant), when the database said."""

    def __init__(
        self,
        message: str,
        constraint: str | None = None,
        *,
        kind: Literal["unique", "reference", "in_use"] = "unique",
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.constraint = constraint
        self.kind = kind
        key = _KEY_COLUMNS.search(detail or "")
        columns = [c.strip() for c in key.group(1).split(",")] if key else []
        self.field = next((c for c in reversed(columns) if c != "tenant_id"), None)


class TenantRepository(Generic[RowT]):
    """CRUD for one tenant-owned table.

    Subclasses name the table, the row type, which columns callers may write, filter and sort
    by, and which columns are encrypted (given as plaintext `str`, stored as AES-GCM bytes).
    """

    table: ClassVar[str]
    row_type: type[RowT]
    writable: ClassVar[frozenset[str]]
    filterable: ClassVar[frozenset[str]] = frozenset()
    sortable: ClassVar[frozenset[str]] = frozenset({"created_at"})
    encrypted: ClassVar[frozenset[str]] = frozenset()
    default_sort: ClassVar[str] = "-created_at"
    # A sortable name that stands for an SQL expression rather than a column of its own.
    sort_expressions: ClassVar[Mapping[str, str]] = {}
    # True for append-only tables whose id is a bigserial PostgreSQL assigns.
    generated_id: ClassVar[bool] = False

    def __init__(self, pool: asyncpg.Pool, box: SecretBox | None = None) -> None:
        if self.encrypted and box is None:
            raise TypeError(f"{type(self).__name__} stores secrets and needs a SecretBox")
        self._pool = pool
        self._box = box

    @property
    def _columns(self) -> tuple[str, ...]:
        return tuple(f.name for f in msgspec.structs.fields(self.row_type))

    def _row(self, record: asyncpg.Record | None) -> RowT | None:
        if record is None:
            return None
        return msgspec.convert(dict(record), self.row_type, strict=False)

    def purpose(self, column: str) -> str:
        """The authenticated-data label of an encrypted column."""
        return f"{self.table}.{column}"

    def reveal(self, row: RowT, column: str) -> str | None:
        """Decrypt an encrypted column of a row read from this repository."""
        assert self._box is not None
        assert column in self.encrypted
        value = getattr(row, column)
        return None if value is None else self._box.decrypt(value, self.purpose(column))

    def _prepare(self, values: Mapping[str, Any]) -> dict[str, Any]:
        prepared: dict[str, Any] = {}
        for column, value in values.items():
            if column not in self.writable:
                raise UnknownColumn(column, "write")
            if column in self.encrypted and value is not None:
                assert self._box is not None
                value = self._box.encrypt(str(value), self.purpose(column))
            prepared[column] = value
        return prepared

    async def get(self, tenant_id: uuid.UUID, row_id: uuid.UUID) -> RowT | None:
        record = await self._pool.fetchrow(
            f"SELECT * FROM {self.table} WHERE tenant_id = $1 AND id = $2", tenant_id, row_id
        )
        return self._row(record)

    async def list_page(
        self,
        tenant_id: uuid.UUID,
        *,
        filters: Mapping[str, Any] | None = None,
        sort: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[RowT]:
        """A page of rows; `filters` are exact matches, `sort` is a column with optional `-`."""
        return await self._page(tenant_id, filters, [], sort, limit, offset)

    async def _page(
        self,
        tenant_id: uuid.UUID,
        filters: Mapping[str, Any] | None,
        conditions: list[tuple[str, Any]],
        sort: str | None,
        limit: int,
        offset: int,
    ) -> Page[RowT]:
        """Rows matching `filters` and `conditions`: SQL fragments written by subclasses with
        `{}` where their one parameter goes, e.g. `("created_at >= {}", since)`."""
        clause, params = self._where(tenant_id, filters, conditions)
        ordering = self._ordering(sort)
        limit = max(1, min(limit, MAX_PAGE_SIZE))
        offset = max(0, offset)
        total = await self._pool.fetchval(
            f"SELECT count(*) FROM {self.table} WHERE {clause}", *params
        )
        records = await self._pool.fetch(
            f"SELECT * FROM {self.table} WHERE {clause} ORDER BY {ordering} "
            f"LIMIT {limit} OFFSET {offset}",
            *params,
        )
        items = [row for row in map(self._row, records) if row is not None]
        return Page(items=items, total=int(total), limit=limit, offset=offset)

    async def _each(
        self,
        tenant_id: uuid.UUID,
        filters: Mapping[str, Any] | None,
        conditions: list[tuple[str, Any]],
        sort: str | None,
        limit: int,
    ) -> AsyncIterator[RowT]:
        """Up to `limit` rows as `_page` selects them, read through a cursor in one snapshot:
        rows written meanwhile neither repeat nor push others out, as pages by offset would."""
        clause, params = self._where(tenant_id, filters, conditions)
        sql = (
            f"SELECT * FROM {self.table} WHERE {clause} ORDER BY {self._ordering(sort)} "
            f"LIMIT {int(limit)}"
        )
        async with self._pool.acquire() as conn, conn.transaction(readonly=True):
            async for record in conn.cursor(sql, *params, prefetch=CURSOR_PREFETCH):
                row = self._row(record)
                if row is not None:
                    yield row

    def _where(
        self,
        tenant_id: uuid.UUID,
        filters: Mapping[str, Any] | None,
        conditions: list[tuple[str, Any]],
    ) -> tuple[str, list[Any]]:
        where, params = ["tenant_id = $1"], [tenant_id]
        for column, value in (filters or {}).items():
            if column not in self.filterable:
                raise UnknownColumn(column, "filter")
            params.append(value)
            where.append(f"{column} = ${len(params)}")
        for fragment, value in conditions:
            params.append(value)
            where.append(fragment.format(f"${len(params)}"))
        return " AND ".join(where), params

    def _ordering(self, sort: str | None) -> str:
        order = sort or self.default_sort
        column = order.removeprefix("-")
        if column not in self.sortable:
            raise UnknownColumn(column, "sort")
        direction = "DESC" if order.startswith("-") else "ASC"
        return f"{self.sort_expressions.get(column, column)} {direction}, id"

    async def create(
        self, tenant_id: uuid.UUID, values: Mapping[str, Any], *, row_id: uuid.UUID | None = None
    ) -> RowT:
        prepared = self._prepare(values)
        columns = ["tenant_id", *prepared]
        params: list[Any] = [tenant_id, *prepared.values()]
        if not self.generated_id:
            columns.insert(0, "id")
            params.insert(0, row_id or uuid.uuid4())
        placeholders = ", ".join(f"${i}" for i in range(1, len(params) + 1))
        record = await self._execute_returning(
            f"INSERT INTO {self.table} ({', '.join(columns)}) VALUES ({placeholders}) RETURNING *",
            params,
        )
        row = self._row(record)
        assert row is not None
        return row

    async def update(
        self, tenant_id: uuid.UUID, row_id: uuid.UUID, values: Mapping[str, Any]
    ) -> RowT | None:
        """Change the given columns; None when the row does not exist for this tenant."""
        prepared = self._prepare(values)
        if not prepared:
            return await self.get(tenant_id, row_id)
        sets = [f"{column} = ${i}" for i, column in enumerate(prepared, start=3)]
        record = await self._execute_returning(
            f"UPDATE {self.table} SET {', '.join(sets)}, updated_at = now() "
            "WHERE tenant_id = $1 AND id = $2 RETURNING *",
            [tenant_id, row_id, *prepared.values()],
        )
        return self._row(record)

    async def delete(self, tenant_id: uuid.UUID, row_id: uuid.UUID) -> bool:
        try:
            result = await self._pool.execute(
                f"DELETE FROM {self.table} WHERE tenant_id = $1 AND id = $2", tenant_id, row_id
            )
        except asyncpg.ForeignKeyViolationError as exc:
            raise Conflict(
                f"{self.table}: still referred to ({exc.detail})",
                exc.constraint_name,
                kind="in_use",
            ) from exc
        return bool(result.endswith(" 1"))

    async def _execute_returning(self, sql: str, params: list[Any]) -> asyncpg.Record | None:
        try:
            return await self._pool.fetchrow(sql, *params)
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(
                f"{self.table}: already exists ({exc.detail})",
                exc.constraint_name,
                detail=exc.detail,
            ) from exc
        except asyncpg.ForeignKeyViolationError as exc:
            raise Conflict(
                f"{self.table}: refers to a missing row ({exc.detail})",
                exc.constraint_name,
                kind="reference",
                detail=exc.detail,
            ) from exc
