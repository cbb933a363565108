"""Finding and reporting calls: by either party's number and by id, by when the call began
(not when its record was written), in analytics per day, and exported as CSV or JSON."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from store.models import CallRecord
from store.repositories.calls import CallRepository
from tests.api.conftest import MakeTenant, TenantHandle

LAST_WEEK = datetime.now(UTC).replace(microsecond=0) - timedelta(days=7)


async def _call(pool: asyncpg.Pool, tenant: TenantHandle, **values: object) -> str:
    """A finished call's record, written now (its `created_at`) whatever time it began."""
    record = CallRecord(
        id=uuid.uuid4(), tenant_id=tenant.id, direction="inbound", status="completed"
    )
    for key, value in values.items():
        setattr(record, key, value)
    await CallRepository(pool).upsert(record)
    return str(record.id)


def _ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [c["id"] for c in response.json()["items"]]


async def test_search_by_either_partys_number_and_by_id(
    client: httpx.AsyncClient, make_tenant: MakeTenant, pg_pool: asyncpg.Pool
) -> None:
    owner = await make_tenant()
    calling = await _call(pg_pool, owner, from_number="+4915112345678", to_number="+4930123456")
    called = await _call(
        pg_pool, owner, direction="outbound", from_number="+4930123456", to_number="+4915112345678"
    )
    await _call(pg_pool, owner, from_number="+4917000000000", to_number="+4930123456")
    found = await client.get("/api/v1/calls?number=%2B4915112345678", headers=owner.viewer)
    assert sorted(_ids(found)) == sorted([calling, called])
    # Without the `+`, or only part of the number, as a person types it.
    assert sorted(
        _ids(await client.get("/api/v1/calls?number=15112345", headers=owner.viewer))
    ) == sorted([calling, called])
    assert _ids(await client.get(f"/api/v1/calls?id={called}", headers=owner.viewer)) == [called]
    bad = await client.get("/api/v1/calls?number=%25", headers=owner.viewer)
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "number"


async def test_calls_are_filtered_sorted_and_counted_by_when_they_began(
    client: httpx.AsyncClient, make_tenant: MakeTenant, pg_pool: asyncpg.Pool
) -> None:
    owner = await make_tenant()
    # Records imported (or written by the outbox) today for calls of last week.
    older = await _call(pg_pool, owner, started_at=LAST_WEEK)
    newer = await _call(pg_pool, owner, started_at=LAST_WEEK + timedelta(hours=1))
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    week_day = LAST_WEEK.replace(hour=0, minute=0, second=0)

    listed = await client.get("/api/v1/calls", headers=owner.viewer)
    assert _ids(listed) == [newer, older]
    on_their_day = await client.get(
        "/api/v1/calls",
        params={"since": week_day.isoformat(), "until": (week_day + timedelta(days=1)).isoformat()},
        headers=owner.viewer,
    )
    assert sorted(_ids(on_their_day)) == sorted([older, newer])
    since_today = await client.get(
        "/api/v1/calls", params={"since": today.isoformat()}, headers=owner.viewer
    )
    assert _ids(since_today) == []
    oldest_first = await client.get("/api/v1/calls?sort=started_at", headers=owner.viewer)
    assert _ids(oldest_first) == [older, newer]

    analytics = await client.get(
        "/api/v1/analytics",
        params={"since": (week_day - timedelta(days=1)).isoformat()},
        headers=owner.viewer,
    )
    days = {d["day"]: d["calls"] for d in analytics.json()["calls_per_day"]}
    assert days == {LAST_WEEK.date().isoformat(): 2}


async def test_export_streams_the_filtered_list_as_csv_or_json(
    client: httpx.AsyncClient, make_tenant: MakeTenant, pg_pool: asyncpg.Pool
) -> None:
    owner = await make_tenant()
    transcript = [
        {"role": "agent", "text": "Hello, salon speaking.", "at_ms": 0},
        {"role": "caller", "text": '=HYPERLINK("x") please', "at_ms": 900},
    ]
    wanted = await _call(
        pg_pool,
        owner,
        from_number="+4915112345678",
        to_number="+4930123456",
        started_at=LAST_WEEK,
        duration_ms=42_000,
        transcript=transcript,
        error_reason="=cmd|' /C calc'!A0",
    )
    await _call(pg_pool, owner, from_number="+4917000000000", to_number="+4930999999")

    response = await client.get(
        "/api/v1/calls/export",
        params={"format": "csv", "number": "4915112345678", "transcripts": "true"},
        headers=owner.viewer,
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith('attachment; filename="calls-')
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["id"] for r in rows] == [wanted]
    assert rows[0]["from_number"] == "+4915112345678"
    assert rows[0]["duration_ms"] == "42000"
    assert rows[0]["started_at"] == LAST_WEEK.isoformat()
    assert rows[0]["transcript"] == 'Agent: Hello, salon speaking.\nCaller: =HYPERLINK("x") please'
    # A cell that a spreadsheet would run as a formula is quoted as text; a number's + is kept.
    assert rows[0]["error_reason"] == "'=cmd|' /C calc'!A0"

    plain = await client.get("/api/v1/calls/export", headers=owner.viewer)
    header, *lines = list(csv.reader(io.StringIO(plain.text)))
    assert "transcript" not in header
    assert len(lines) == 2

    as_json = await client.get(
        "/api/v1/calls/export",
        params={"format": "json", "transcripts": "true", "number": "4915112345678"},
        headers=owner.viewer,
    )
    assert as_json.headers["content-type"].startswith("application/json")
    (only,) = as_json.json()
    assert only["id"] == wanted
    assert [e["text"] for e in only["transcript"]] == [e["text"] for e in transcript]
    nothing = await client.get(
        "/api/v1/calls/export", params={"format": "json", "number": "111"}, headers=owner.viewer
    )
    assert nothing.json() == []


async def test_export_is_the_tenants_own(
    client: httpx.AsyncClient,
    make_tenant: MakeTenant,
    other_tenant: TenantHandle,
    pg_pool: asyncpg.Pool,
) -> None:
    owner = await make_tenant()
    await _call(pg_pool, owner, from_number="+4915550000001")
    response = await client.get(
        "/api/v1/calls/export", params={"number": "4915550000001"}, headers=other_tenant.viewer
    )
    assert response.status_code == 200
    assert response.text.strip().count("\n") == 0  # the header line only
    unauthenticated = await client.get("/api/v1/calls/export")
    assert unauthenticated.status_code == 401
