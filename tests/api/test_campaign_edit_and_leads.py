"""What the admin UI's campaign pages need of the API: replacing a campaign's settings while
it is not calling (checked as creation is), and its leads a page at a time with each one's
attempts, filtered by state and by how the last attempt ended."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
import httpx

from store.campaign_rules import Disposition, LeadState
from store.repositories.campaigns import (
    AttemptRepository,
    CampaignRepository,
    Dial,
    EndedCall,
    LeadRepository,
)
from tests.api.conftest import MakeTenant
from tests.api.test_campaigns import _create, _setup


async def test_settings_are_replaced_only_while_not_calling(
    client: httpx.AsyncClient, make_tenant: MakeTenant
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    agent_id, trunk_id, did = await _setup(client, tenant)
    created = await _create(client, tenant, name="draft", agent_id=agent_id, trunk_id=trunk_id)
    url = f"/api/v1/campaigns/{created.json()['id']}"
    body = {
        "name": "renamed",
        "agent_id": agent_id,
        "trunk_id": trunk_id,
        "max_concurrency": 3,
        "caller_ids": [did],
        "calling_window": {"days": [6, 7], "start": "10:00", "end": "12:00", "holidays": "FR"},
        "retry_rules": {"no_answer": {"retries": 4, "after_s": 120}},
    }
    refused = await client.put(
        url,
        json={**body, "max_concurrency": 999, "caller_ids": ["+15550009999"]},
        headers=tenant.admin,
    )
    assert refused.status_code == 422, refused.text
    assert {e["field"] for e in refused.json()["errors"]} == {"max_concurrency", "caller_ids[0]"}
    assert (await client.get(url, headers=tenant.viewer)).json()["name"] == "draft"
    assert (await client.put(url, json=body, headers=tenant.viewer)).status_code == 403
    assert (await client.put(url, json=body, headers=other.admin)).status_code == 404

    replaced = await client.put(url, json=body, headers=tenant.admin)
    assert replaced.status_code == 200, replaced.text
    got = (await client.get(url, headers=tenant.viewer)).json()
    assert got["name"] == "renamed" and got["status"] == "draft" and got["max_concurrency"] == 3
    assert got["calling_window"]["holidays"] == "FR" and got["caller_ids"] == [did]
    assert got["retry_rules"] == {"no_answer": {"retries": 4, "after_s": 120}}
    audit = await client.get(
        f"/api/v1/audit-logs?entity_type=campaign&entity_id={got['id']}", headers=tenant.viewer
    )
    assert "update" in [e["action"] for e in audit.json()["items"]]

    await client.post(f"{url}/start", headers=tenant.admin)
    running = await client.put(url, json={**body, "name": "while running"}, headers=tenant.admin)
    assert running.status_code == 409 and "pause it first" in running.text
    assert (await client.get(url, headers=tenant.viewer)).json()["name"] == "renamed"
    await client.post(f"{url}/pause", headers=tenant.admin)
    paused = await client.put(url, json={**body, "name": "while paused"}, headers=tenant.admin)
    assert paused.status_code == 200 and paused.json()["status"] == "paused"


async def test_leads_come_a_page_at_a_time_with_their_attempts(
    client: httpx.AsyncClient, make_tenant: MakeTenant, pg_pool: asyncpg.Pool
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    agent_id, trunk_id, did = await _setup(client, tenant)
    created = await _create(
        client, tenant, name="leads", agent_id=agent_id, trunk_id=trunk_id, max_concurrency=2
    )
    campaign_id = created.json()["id"]
    leads_url = f"/api/v1/campaigns/{campaign_id}/leads"
    numbers = [f"+1555700{i:04d}" for i in range(5)]
    added = await client.post(
        leads_url,
        json={"leads": [{"number": n, "variables": {"i": str(i)}} for i, n in enumerate(numbers)]},
        headers=tenant.admin,
    )
    assert added.status_code == 201, added.text

    # The runner's own moves: dial two leads, one's call ends busy.
    campaign = await CampaignRepository(pg_pool).get(tenant.id, uuid.UUID(campaign_id))
    assert campaign is not None
    now = datetime.now(UTC)
    dials, _ = await LeadRepository(pg_pool).claim_due(
        campaign, now, 2, lambda _: Dial(call_id=uuid.uuid4(), caller_id=did)
    )
    busy_lead, busy_dial = dials[0]
    attempts = AttemptRepository(pg_pool)
    [attempt] = (await attempts.list_page(tenant.id, filters={"lead_id": busy_lead.id})).items
    ended = EndedCall(attempt=attempt, status="busy", outcome=None, error_reason=None, tools=[])
    await attempts.settle(ended, Disposition.BUSY, lambda _: (LeadState.PENDING, None), now)

    dialling_lead = dials[1][0]

    page = (await client.get(leads_url, params={"limit": 3}, headers=tenant.viewer)).json()
    assert page["total"] == 5 and [lead["number"] for lead in page["items"]] == numbers[:3]
    rest = (await client.get(leads_url, params={"offset": 3}, headers=tenant.viewer)).json()
    assert [lead["number"] for lead in rest["items"]] == numbers[3:]
    by_number = {lead["number"]: lead for lead in page["items"] + rest["items"]}
    busy_out = by_number[busy_lead.number]
    assert busy_out["state"] == "pending" and busy_out["last_disposition"] == "busy"
    assert busy_out["variables"] == {"i": str(numbers.index(busy_lead.number))}
    assert [(a["attempt"], a["disposition"], a["call_id"]) for a in busy_out["history"]] == [
        (1, "busy", str(busy_dial.call_id))
    ]
    assert by_number[dialling_lead.number]["history"][0]["disposition"] is None
    never = set(numbers) - {busy_lead.number, dialling_lead.number}
    assert all(by_number[n]["history"] == [] for n in never)

    dialling = await client.get(leads_url, params={"state": "dialling"}, headers=tenant.viewer)
    assert [lead["number"] for lead in dialling.json()["items"]] == [dialling_lead.number]
    busy = await client.get(leads_url, params={"disposition": "busy"}, headers=tenant.viewer)
    assert [lead["number"] for lead in busy.json()["items"]] == [busy_lead.number]
    unknown = await client.get(leads_url, params={"state": "asleep"}, headers=tenant.viewer)
    assert unknown.status_code == 400
    assert (await client.get(leads_url, headers=other.viewer)).status_code == 404
