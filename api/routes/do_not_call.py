"""The tenant's do-not-call list: add, remove, list, import and export as CSV; audited.

No call is placed to a listed number (`POST /calls` refuses it unless the admin overrides
the list for that call, and every process's dispatcher checks again before dialling).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Router, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Stream
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from api.auth import Principal, authenticate, authenticate_writer
from api.common import DEFAULT_LIMIT, MAX_FILTER_CHARS, Limit, Offset, audit
from api.context import ApiContext
from api.csv_text import BadCsv, csv_stream, read_rows
from api.errors import ApiError, FieldError, invalid, invalid_fields, not_found, problems
from store.phone import BadNumber, parse_number
from store.repositories.do_not_call import DoNotCallEntry, DoNotCallRepository

Reason = Annotated[str, msgspec.Meta(max_length=500)]
NumberText = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
# What fits the API's 1 MB body as CSV; a bigger list is imported in parts.
MAX_IMPORT_CHARS = 1_000_000
EXPORT_COLUMNS = ("number", "source", "reason", "call_id", "created_at")


class DoNotCallOut(msgspec.Struct, kw_only=True):
    number: str
    source: str
    reason: str
    call_id: uuid.UUID | None
    created_at: datetime


class DoNotCallList(msgspec.Struct, kw_only=True):
    items: list[DoNotCallOut]
    total: int
    limit: int
    offset: int


class DoNotCallAdd(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    number: NumberText
    reason: Reason = ""


class DoNotCallImport(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A CSV text whose header names a `number` column (other columns are ignored)."""

    csv: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_IMPORT_CHARS)]
    reason: Reason = ""


class DoNotCallImported(msgspec.Struct, kw_only=True):
    added: int
    already_listed: int


def _out(entry: DoNotCallEntry) -> DoNotCallOut:
    return DoNotCallOut(
        number=entry.number,
        source=entry.source,
        reason=entry.reason,
        call_id=entry.call_id,
        created_at=entry.created_at,
    )


def _number(field: str, raw: str) -> str:
    try:
        return parse_number(raw)
    except BadNumber as exc:
        raise invalid(field, str(exc)) from None


@get("/", operation_id="listDoNotCall", responses=problems(400, 401, 429))
async def list_do_not_call(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    number: Annotated[
        str | None, QueryParameter(description="Part of a number.", max_length=MAX_FILTER_CHARS)
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
) -> DoNotCallList:
    """The list in number order; `number` finds numbers containing it."""
    digits = number.strip().lstrip("+") if number else None
    page = await DoNotCallRepository(context.pool).search(
        principal.tenant_id, number=digits, limit=limit, offset=offset
    )
    return DoNotCallList(
        items=[_out(e) for e in page.items], total=page.total, limit=page.limit, offset=page.offset
    )


@post(
    "/",
    operation_id="addDoNotCall",
    status_code=HTTP_201_CREATED,
    responses=problems(400, 401, 403, 422, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def add_do_not_call(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    data: JSONBody[DoNotCallAdd],
) -> DoNotCallOut:
    """Put a number on the list (a number already there is returned as it is)."""
    number = _number("number", data.number)
    entry, added = await DoNotCallRepository(context.pool).add(
        principal.tenant_id, number, source="api", reason=data.reason
    )
    if added:
        await audit(context, principal, "add", "do_not_call", number, after={"reason": data.reason})
    return _out(entry)


@delete(
    "/{number:str}",
    operation_id="removeDoNotCall",
    status_code=HTTP_204_NO_CONTENT,
    responses=problems(400, 401, 403, 404, 422, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def remove_do_not_call(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    number: FromPath[str],
) -> None:
    """Take a number off the list (write `+` as `%2B`)."""
    stored = _number("number", number)
    removed = await DoNotCallRepository(context.pool).remove(principal.tenant_id, stored)
    if removed is None:
        raise not_found("number on the do-not-call list")
    await audit(
        context,
        principal,
        "remove",
        "do_not_call",
        stored,
        before=msgspec.to_builtins(_out(removed)),
    )


@post(
    "/import",
    operation_id="importDoNotCall",
    status_code=HTTP_201_CREATED,
    responses=problems(400, 401, 403, 422, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def import_do_not_call(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    data: JSONBody[DoNotCallImport],
) -> DoNotCallImported:
    """Add every number of a CSV; one bad row refuses the whole import (each bad row is named
    in `errors`) and nothing is added."""
    try:
        rows = read_rows(data.csv, required="number")
    except BadCsv as exc:
        raise invalid("csv", str(exc)) from None
    numbers: list[str] = []
    errors: list[FieldError] = []
    for line, row in rows:
        try:
            numbers.append(parse_number(row.get("number", "")))
        except BadNumber as exc:
            errors.append(FieldError(f"csv.line[{line}]", str(exc)))
    if errors:
        raise invalid_fields(errors)
    if not numbers:
        raise invalid("csv", "the CSV has a header but no numbers")
    added = await DoNotCallRepository(context.pool).add_many(
        principal.tenant_id, numbers, source="import", reason=data.reason
    )
    unique = len(set(numbers))
    await audit(
        context,
        principal,
        "import",
        "do_not_call",
        None,
        after={"added": added, "rows": len(numbers), "reason": data.reason},
    )
    return DoNotCallImported(added=added, already_listed=unique - added)


@get(
    "/export",
    operation_id="exportDoNotCall",
    summary="The whole do-not-call list as CSV",
    media_type="text/csv",
    responses=problems(401, 429),
)
async def export_do_not_call(
    principal: NamedDependency[Principal], context: NamedDependency[ApiContext]
) -> Stream:
    entries = DoNotCallRepository(context.pool).every(principal.tenant_id)

    async def rows() -> AsyncIterator[list[Any]]:
        async for e in entries:
            yield [e.number, e.source, e.reason, e.call_id, e.created_at]

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Stream(
        csv_stream(EXPORT_COLUMNS, rows()),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="do-not-call-{stamp}.csv"'},
    )


def refused_by_list(number: str) -> ApiError:
    return ApiError(
        409,
        f"{number} is on the do-not-call list; set override_do_not_call to call it anyway",
    )


router = Router(
    path="/do-not-call",
    route_handlers=[
        list_do_not_call,
        add_do_not_call,
        remove_do_not_call,
        import_do_not_call,
        export_do_not_call,
    ],
    tags=["do-not-call"],
    security=[{"bearer": []}],
    dependencies={"principal": Provide(authenticate)},
)
