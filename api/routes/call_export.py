"""Calls exported as CSV or JSON: the calls list's filters, every matching call (not one page),
streamed from a database cursor as it is read, with or without transcripts."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec
from litestar import Router, get
from litestar.di import NamedDependency, Provide
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, Operation, Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.params import FromQuery
from litestar.response import Stream

from api.auth import Principal, authenticate
from api.call_filters import CallFilters, call_filters
from api.context import ApiContext
from api.errors import problems
from store.models import CallRecord
from store.repositories.calls import CallRepository

# A year of a busy tenant's calls; past this an export is a job for the database, not a download.
MAX_EXPORT_ROWS = 100_000
COLUMNS = (
    "id",
    "started_at",
    "answered_at",
    "ended_at",
    "direction",
    "transport",
    "from_number",
    "to_number",
    "agent_id",
    "status",
    "outcome",
    "duration_ms",
    "error_reason",
)
# Post-call columns of the CSV (the JSON export carries `cost` and `analysis` whole).
POST_CALL_COLUMNS = (
    "cost_total",
    "cost_currency",
    "analysis_status",
    "analysis_summary",
    "analysis_success",
    "analysis_success_reason",
    "analysis_data",
)
# A spreadsheet runs a cell that starts like a formula; a phone number's `+` is not one.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?[0-9][0-9 ]*$")


@dataclass
class _ExportOperation(Operation):
    """The document says what the stream really is: CSV text, or a JSON array of calls."""

    def __post_init__(self) -> None:
        success = self.responses.get("200") if self.responses else None
        if isinstance(success, OpenAPIResponse):
            success.content = {
                "text/csv": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING)),
                "application/json": OpenAPIMediaType(
                    schema=Schema(type=OpenAPIType.ARRAY, items=Schema(type=OpenAPIType.OBJECT))
                ),
            }


def _cell(value: object) -> str:
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    if text.startswith(_FORMULA_START) and not _NUMBER.match(text):
        return "'" + text
    return text


def _transcript_text(transcript: list[dict[str, Any]]) -> str:
    """One line per utterance: `Caller: …` / `Agent: …`."""
    return "\n".join(
        f"{str(e.get('role', '')).capitalize()}: {e.get('text', '')}"
        for e in transcript
        if isinstance(e, dict)
    )


def _post_call_cells(call: CallRecord) -> list[object]:
    cost = call.cost or {}
    analysis = call.analysis or {}
    data = analysis.get("data")
    return [
        cost.get("total"),
        cost.get("currency"),
        analysis.get("status"),
        analysis.get("summary"),
        analysis.get("success"),
        analysis.get("success_reason"),
        None if data is None else msgspec.json.encode(data).decode(),
    ]


def _row(call: CallRecord, transcripts: bool) -> dict[str, Any]:
    row: dict[str, Any] = {c: getattr(call, c) for c in COLUMNS}
    row["cost"] = call.cost
    row["analysis"] = call.analysis
    if transcripts:
        row["transcript"] = call.transcript
    return row


async def _csv(calls: AsyncIterator[CallRecord], transcripts: bool) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*COLUMNS, *POST_CALL_COLUMNS, *(["transcript"] if transcripts else [])])
    async for call in calls:
        cells = [_cell(getattr(call, c)) for c in COLUMNS]
        cells += [_cell(v) for v in _post_call_cells(call)]
        if transcripts:
            cells.append(_cell(_transcript_text(call.transcript)))
        writer.writerow(cells)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


async def _json(calls: AsyncIterator[CallRecord], transcripts: bool) -> AsyncIterator[bytes]:
    separator = b"["
    async for call in calls:
        yield separator + msgspec.json.encode(_row(call, transcripts))
        separator = b",\n"
    yield b"[]" if separator == b"[" else b"]\n"


@get(
    "/export",
    operation_id="exportCalls",
    summary="Every call the list's filters find, as CSV or JSON",
    responses=problems(400, 401, 429),
    dependencies={"filters": Provide(call_filters)},
    operation_class=_ExportOperation,
)
async def export_calls(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    filters: NamedDependency[CallFilters],
    format: FromQuery[Literal["csv", "json"]] = "csv",
    transcripts: FromQuery[bool] = False,
) -> Stream:
    """Up to 100,000 calls in the list's order, with each call's cost and post-call analysis
    once the post-call worker wrote them; `transcripts` adds each call's transcript (in CSV one
    `Caller: …` / `Agent: …` line per utterance)."""
    calls = CallRepository(context.pool).each(
        principal.tenant_id,
        filters=filters.columns,
        since=filters.since,
        until=filters.until,
        text=filters.text,
        number=filters.number,
        sort=filters.sort,
        limit=MAX_EXPORT_ROWS,
    )
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    disposition = {"Content-Disposition": f'attachment; filename="calls-{stamp}.{format}"'}
    if format == "json":
        return Stream(_json(calls, transcripts), media_type="application/json", headers=disposition)
    return Stream(
        _csv(calls, transcripts), media_type="text/csv; charset=utf-8", headers=disposition
    )


router = Router(
    path="/calls",
    route_handlers=[export_calls],
    tags=["calls"],
    security=[{"bearer": []}],
    dependencies={"principal": Provide(authenticate)},
)
