"""Campaigns over the API: creation checked against the trunk's caps and the tenant's numbers,
leads from JSON and CSV (E.164, per-row errors, time zones), status actions, results, tenancy."""

from __future__ import annotations

import csv
import io
import random
from typing import Any

import httpx

from tests.api.conftest import MakeTenant, TenantHandle, create_agent
from tests.api.test_sip_trunks import REGISTRATION


def _did() -> str:
    return f"+1555{random.randrange(10**6, 10**7)}"


async def _setup(client: httpx.AsyncClient, tenant: TenantHandle) -> tuple[str, str, str]:
    """An agent answering a number of the tenant's, and a trunk: (agent id, trunk id, did)."""
    did = _did()
    agent = await create_agent(client, tenant.admin, inbound_numbers=[did])
    trunk = await client.post(
        "/api/v1/sip-trunks",
        json={**REGISTRATION, "name": f"t{random.randrange(10**6)}"},
        headers=tenant.admin,
    )
    assert trunk.status_code == 201, trunk.text
    return agent["id"], trunk.json()["id"], did


async def _create(client: httpx.AsyncClient, tenant: TenantHandle, **body: Any) -> httpx.Response:
    return await client.post("/api/v1/campaigns", json=body, headers=tenant.admin)


async def test_creation_keeps_within_the_trunk_and_the_tenants_numbers(
    client: httpx.AsyncClient, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    agent_id, trunk_id, did = await _setup(client, tenant)
    refused = await _create(
        client,
        tenant,
        name="too fast",
        agent_id=agent_id,
        trunk_id=trunk_id,
        max_concurrency=21,
        calls_per_second=3,
        caller_ids=["+15550009999"],
        default_timezone="Mars/Olympus",
    )
    assert refused.status_code == 422, refused.text
    fields = {e["field"]: e["reason"] for e in refused.json()["errors"]}
    assert set(fields) == {
        "max_concurrency",
        "calls_per_second",
        "caller_ids[0]",
        "default_timezone",
    }
    assert "20 calls at once" in fields["max_concurrency"]
    assert "not one of your numbers" in fields["caller_ids[0]"]
    window = await _create(
        client,
        tenant,
        name="bad window",
        agent_id=agent_id,
        trunk_id=trunk_id,
        calling_window={"days": [1], "start": "18:00", "end": "09:00"},
    )
    assert window.status_code in (400, 422) and "end must be after" in window.text
    neither = await _create(client, tenant, name="nowhere", agent_id=agent_id)
    assert neither.status_code == 422 and "trunk_id" in neither.text
    assert (await client.get("/api/v1/campaigns", headers=tenant.viewer)).json()["total"] == 0

    created = await _create(
        client,
        tenant,
        name="reminders",
        agent_id=agent_id,
        trunk_id=trunk_id,
        max_concurrency=5,
        calls_per_second=2,
        caller_ids=[did],
        calling_window={
            "days": [1, 2, 3, 4, 5],
            "start": "09:00",
            "end": "18:00",
            "holidays": "US",
        },
        retry_rules={"busy": {"retries": 3, "after_s": 300}},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "draft" and body["caller_ids"] == [did]
    assert body["retry_rules"] == {"busy": {"retries": 3, "after_s": 300}}
    audit = await client.get(
        f"/api/v1/audit-logs?entity_type=campaign&entity_id={body['id']}", headers=tenant.viewer
    )
    assert [e["action"] for e in audit.json()["items"]] == ["create"]


async def test_leads_are_normalised_with_a_report_of_every_bad_row(
    client: httpx.AsyncClient, make_tenant: MakeTenant
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    agent_id, trunk_id, _ = await _setup(client, tenant)
    campaign = (
        await _create(
            client,
            tenant,
            name="survey",
            agent_id=agent_id,
            trunk_id=trunk_id,
            default_timezone="America/Chicago",
        )
    ).json()
    leads_url = f"/api/v1/campaigns/{campaign['id']}/leads"
    bad = await client.post(
        f"{leads_url}/import",
        json={"csv": "number,first_name\n+12125550100,Ada\nhello,Bob\n2125550101,Cy\n"},
        headers=tenant.admin,
    )
    assert bad.status_code == 422, bad.text
    reasons = {e["field"]: e["reason"] for e in bad.json()["errors"]}
    # The bare 2125550101 is read in the country of the agent's (US) number.
    assert set(reasons) == {"csv.line[3].number"}

    rows = (
        "Number,Timezone,first_name\n"
        "(212) 555-0100,,Ada\n"
        "+44 20 7946 0958,,Bob\n"
        "+15557654321,,Cy\n"
        "+15557654322,Europe/Paris,Di\n"
        "212-555-0100,,again\n"
    )
    imported = await client.post(
        f"{leads_url}/import", json={"csv": rows, "region": "US"}, headers=tenant.admin
    )
    assert imported.status_code == 201, imported.text
    assert imported.json() == {"added": 4, "duplicates": 1, "region": "US"}
    more = await client.post(
        leads_url,
        json={"leads": [{"number": "+33142685300", "variables": {"first_name": "Ed"}}]},
        headers=tenant.admin,
    )
    assert more.json() == {"added": 1, "duplicates": 0, "region": "US"}
    assert (
        await client.post(
            leads_url, json={"leads": [{"number": "+33142685301"}]}, headers=other.admin
        )
    ).status_code == 404

    results = await client.get(f"/api/v1/campaigns/{campaign['id']}/results", headers=tenant.viewer)
    table = {r["number"]: r for r in csv.DictReader(io.StringIO(results.text))}
    assert {n: r["timezone"] for n, r in table.items()} == {
        "+12125550100": "America/New_York",
        "+442079460958": "Europe/London",
        "+15557654321": "America/Chicago",  # no single zone for the number: the default
        "+15557654322": "Europe/Paris",
        "+33142685300": "Europe/Paris",
    }
    assert all(r["lead_state"] == "pending" and r["attempt"] == "" for r in table.values())
    progress = await client.get(
        f"/api/v1/campaigns/{campaign['id']}/progress", headers=tenant.viewer
    )
    assert progress.json()["total_leads"] == 5 and progress.json()["answer_rate"] is None


async def test_bare_national_numbers_are_read_in_the_country_the_campaign_calls_from(
    client: httpx.AsyncClient, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    _, trunk_id, _ = await _setup(client, tenant)
    paris = f"+3314268{random.randrange(10**3, 10**4)}"
    french = await create_agent(client, tenant.admin, inbound_numbers=[_did(), paris])
    agent_with_no_number = await create_agent(client, tenant.admin)

    async def imported(agent_id: str, csv_text: str, **campaign: Any) -> httpx.Response:
        created = await _create(
            client,
            tenant,
            name=f"c{random.randrange(10**6)}",
            agent_id=agent_id,
            trunk_id=trunk_id,
            **campaign,
        )
        assert created.status_code == 201, created.text
        return await client.post(
            f"/api/v1/campaigns/{created.json()['id']}/leads/import",
            json={"csv": csv_text},
            headers=tenant.admin,
        )

    us_agent = (await _setup(client, tenant))[0]
    us = await imported(us_agent, "number\n4155550123\n(415) 555-0124\n447911123456\n")
    assert us.json() == {"added": 3, "duplicates": 0, "region": "US"}, us.text
    results = await client.get(
        f"{us.request.url.path.removesuffix('/leads/import')}/results", headers=tenant.viewer
    )
    numbers = {r["number"] for r in csv.DictReader(io.StringIO(results.text))}
    # An international number written without its + is still read as one.
    assert numbers == {"+14155550123", "+14155550124", "+447911123456"}

    # The campaign's caller id names the country before the agent's other numbers.
    fr = await imported(french["id"], "number\n01 42 68 53 00\n", caller_ids=[paris])
    assert fr.json() == {"added": 1, "duplicates": 0, "region": "FR"}, fr.text

    # Nothing says where the campaign calls from: a bare number must carry its country.
    unknown = await imported(agent_with_no_number["id"], "number\n4155550123\n")
    assert unknown.status_code == 422, unknown.text
    assert "wrong number of digits" in unknown.json()["errors"][0]["reason"]


async def test_status_actions_follow_the_lifecycle(
    client: httpx.AsyncClient, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    agent_id, trunk_id, _ = await _setup(client, tenant)
    later = await _create(
        client,
        tenant,
        name="later",
        agent_id=agent_id,
        trunk_id=trunk_id,
        start_at="2099-01-01T09:00:00Z",
    )
    url = f"/api/v1/campaigns/{later.json()['id']}"
    assert (await client.post(f"{url}/resume", headers=tenant.admin)).status_code == 409
    started = await client.post(f"{url}/start", headers=tenant.admin)
    assert started.status_code == 200 and started.json()["status"] == "scheduled"
    paused = await client.post(f"{url}/pause", headers=tenant.admin)
    assert paused.json()["status"] == "paused"
    assert (await client.post(f"{url}/pause", headers=tenant.viewer)).status_code == 403
    await client.post(
        f"{url}/leads", json={"leads": [{"number": "+15550001"}]}, headers=tenant.admin
    )
    cancelled = await client.post(f"{url}/cancel", headers=tenant.admin)
    assert cancelled.json()["status"] == "cancelled"
    progress = (await client.get(f"{url}/progress", headers=tenant.viewer)).json()
    assert progress["leads"] == {"cancelled": 1}
    closed = await client.post(
        f"{url}/leads", json={"leads": [{"number": "+15550002"}]}, headers=tenant.admin
    )
    assert closed.status_code == 409


async def test_an_agent_in_a_campaign_cannot_be_deleted(
    client: httpx.AsyncClient, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    agent_id, trunk_id, _ = await _setup(client, tenant)
    created = await _create(client, tenant, name="keeps", agent_id=agent_id, trunk_id=trunk_id)
    assert created.status_code == 201, created.text
    refused = await client.delete(f"/api/v1/agents/{agent_id}", headers=tenant.admin)
    assert refused.status_code == 409, refused.text
    assert (
        await client.get(f"/api/v1/agents/{agent_id}", headers=tenant.viewer)
    ).status_code == 200
