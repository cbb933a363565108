"""Two runners claiming one campaign's leads at once (the lease normally prevents it; a
runner stalled past its lease, or a Redis that lost it, does not) still stay within the
campaign's concurrency cap together: the claim counts the room under the campaign's row lock."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Final

import asyncpg

from store.repositories.campaigns import (
    AttemptRepository,
    CampaignRepository,
    Dial,
    DueLead,
    LeadRepository,
    NewLead,
    Plan,
)
from store.repositories.config import AgentRepository
from store.repositories.tenants import TenantsRepository
from vocals.loadtest.agent import agent_values
from vocals.loadtest.config import LoadTestConfig

CAP: Final = 5
LEADS: Final = 20


def dial(due: DueLead) -> Plan:
    return Dial(call_id=uuid.uuid4(), caller_id="")


async def test_runners_claiming_at_once_stay_within_the_cap_together(
    pg_pool: asyncpg.Pool,
) -> None:
    tenant = await TenantsRepository(pg_pool).create(f"claims-{uuid.uuid4().hex[:8]}")
    agent = await AgentRepository(pg_pool).create(tenant.id, agent_values(LoadTestConfig()))
    assert agent is not None
    campaign = await CampaignRepository(pg_pool).create(
        tenant.id,
        {
            "name": "claims",
            "agent_id": agent.id,
            "trunk_id": None,
            "twilio": False,
            "max_concurrency": CAP,
            "calls_per_second": 1,
            "calling_window": {},
            "retry_rules": {},
            "caller_ids": [],
            "default_timezone": "UTC",
            "start_at": None,
        },
    )
    leads = LeadRepository(pg_pool)
    await leads.add(
        tenant.id,
        campaign.id,
        [
            NewLead(number=f"+1555{7000000 + i:07d}", timezone="UTC", variables={})
            for i in range(LEADS)
        ],
    )
    now = datetime.now(UTC)
    # Each runner saw the campaign with no call out, so each asks for the whole cap.
    claimed = await asyncio.gather(
        leads.claim_due(campaign, now, CAP, dial), leads.claim_due(campaign, now, CAP, dial)
    )

    assert sum(len(dials) for dials, _ in claimed) == CAP
    assert await AttemptRepository(pg_pool).out_count(tenant.id, campaign.id) == CAP
