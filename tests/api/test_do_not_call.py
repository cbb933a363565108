"""The do-not-call list over the API: add, list, remove, CSV import and export, audit, tenancy,
and `POST /calls` refusing a listed number unless the admin overrides it."""

from __future__ import annotations

import csv
import io
import uuid

import httpx
from redis.asyncio import Redis

from store.outbound_queue import OutboundQueue
from tests.api.conftest import MakeTenant, TenantHandle, create_agent


async def _audit(client: httpx.AsyncClient, tenant: TenantHandle) -> list[dict[str, object]]:
    response = await client.get(
        "/api/v1/audit-logs?entity_type=do_not_call&limit=200", headers=tenant.viewer
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["items"]
    return items


async def test_add_list_remove_are_tenant_scoped_and_audited(
    client: httpx.AsyncClient, make_tenant: MakeTenant
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    added = await client.post(
        "/api/v1/do-not-call",
        json={"number": "1 (555) 765-4321", "reason": "asked by email"},
        headers=tenant.admin,
    )
    assert added.status_code == 201, added.text
    assert added.json()["number"] == "+15557654321"
    assert added.json()["source"] == "api"
    again = await client.post(
        "/api/v1/do-not-call", json={"number": "+15557654321"}, headers=tenant.admin
    )
    assert again.status_code == 201 and again.json()["reason"] == "asked by email"

    listed = (await client.get("/api/v1/do-not-call", headers=tenant.viewer)).json()
    assert [e["number"] for e in listed["items"]] == ["+15557654321"]
    assert (await client.get("/api/v1/do-not-call", headers=other.viewer)).json()["total"] == 0
    found = await client.get("/api/v1/do-not-call?number=765", headers=tenant.viewer)
    assert found.json()["total"] == 1

    viewer = await client.post(
        "/api/v1/do-not-call", json={"number": "+15550000001"}, headers=tenant.viewer
    )
    assert viewer.status_code == 403
    bad = await client.post("/api/v1/do-not-call", json={"number": "call me"}, headers=tenant.admin)
    assert bad.status_code == 422 and "not a phone number" in bad.json()["detail"]

    assert (
        await client.delete("/api/v1/do-not-call/%2B15557654321", headers=other.admin)
    ).status_code == 404
    removed = await client.delete("/api/v1/do-not-call/%2B15557654321", headers=tenant.admin)
    assert removed.status_code == 204
    assert (await client.get("/api/v1/do-not-call", headers=tenant.viewer)).json()["total"] == 0
    actions = [str(e["action"]) for e in await _audit(client, tenant)]
    assert sorted(actions) == ["add", "remove"]


async def test_csv_import_names_bad_rows_and_changes_nothing(
    client: httpx.AsyncClient, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    refused = await client.post(
        "/api/v1/do-not-call/import",
        json={"csv": "Number,name\n+15550001111,Ada\nnot-a-number,Bob\n+1234,Cy\n"},
        headers=tenant.admin,
    )
    assert refused.status_code == 422, refused.text
    fields = [e["field"] for e in refused.json()["errors"]]
    assert fields == ["csv.line[3]", "csv.line[4]"]
    assert (await client.get("/api/v1/do-not-call", headers=tenant.viewer)).json()["total"] == 0
    no_header = await client.post(
        "/api/v1/do-not-call/import", json={"csv": "+15550001111\n"}, headers=tenant.admin
    )
    assert no_header.status_code == 422 and "header" in no_header.json()["detail"]

    rows = "number\n+15550001111\n0015550001112\n15550001111\n\n"
    imported = await client.post(
        "/api/v1/do-not-call/import", json={"csv": rows, "reason": "CRM"}, headers=tenant.admin
    )
    assert imported.status_code == 201, imported.text
    assert imported.json() == {"added": 2, "already_listed": 0}
    repeat = await client.post(
        "/api/v1/do-not-call/import", json={"csv": rows}, headers=tenant.admin
    )
    assert repeat.json() == {"added": 0, "already_listed": 2}

    exported = await client.get("/api/v1/do-not-call/export", headers=tenant.viewer)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["number"], r["source"], r["reason"]) for r in table] == [
        ("+15550001111", "import", "CRM"),
        ("+15550001112", "import", "CRM"),
    ]
    assert [e["action"] for e in await _audit(client, tenant)] == ["import", "import"]


async def test_a_listed_number_is_not_queued_unless_overridden(
    client: httpx.AsyncClient, make_tenant: MakeTenant, redis: Redis
) -> None:
    tenant = await make_tenant()
    agent = await create_agent(client, tenant.admin)
    await client.post("/api/v1/do-not-call", json={"number": "+15557650000"}, headers=tenant.admin)
    refused = await client.post(
        "/api/v1/calls", json={"agent_id": agent["id"], "to": "15557650000"}, headers=tenant.key
    )
    assert refused.status_code == 409, refused.text
    assert "do-not-call" in refused.json()["detail"]
    calls = await client.get("/api/v1/calls", headers=tenant.viewer)
    assert calls.json()["total"] == 0

    overridden = await client.post(
        "/api/v1/calls",
        json={"agent_id": agent["id"], "to": "15557650000", "override_do_not_call": True},
        headers=tenant.key,
    )
    assert overridden.status_code == 202, overridden.text
    job = await OutboundQueue(redis).job(uuid.UUID(overridden.json()["id"]))
    assert job is not None and job["override_do_not_call"] is True
    audit = await client.get(
        f"/api/v1/audit-logs?entity_type=call&entity_id={overridden.json()['id']}",
        headers=tenant.viewer,
    )
    [entry] = audit.json()["items"]
    assert entry["after"]["do_not_call_overridden"] is True
