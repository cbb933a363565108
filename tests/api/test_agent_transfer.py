"""An agent's transfer settings over the API: saved, validated, and what a call then offers."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from api.context import ApiContext
from ari_app.agent_loader import StoreAgentLoader
from pipeline.call_control import TransferMode
from tests.api.conftest import TenantHandle, create_agent

SALES = {"name": "sales", "target": "PJSIP/1001", "description": "quotes and orders"}
BILLING = {"name": "billing", "target": "+15550100200", "trunk": "trunk1"}
FRONT_DESK = {"name": "front_desk", "target": "vocals-humans,200"}
RING_GROUP = {"name": "ring_group", "target": "Local/300@vocals-humans/n"}


async def test_transfer_settings_are_saved_validated_and_reach_the_call(
    client: httpx.AsyncClient, tenant: TenantHandle, api_context: ApiContext
) -> None:
    plain = await create_agent(client, tenant.admin)
    assert plain["transfer"] == {
        "enabled": False,
        "mode": "blind",
        "targets": [],
        "ring_timeout_s": 25,
    }
    transfer = {
        "enabled": True,
        "mode": "warm",
        "targets": [SALES, BILLING, FRONT_DESK, RING_GROUP],
    }
    created = await create_agent(client, tenant.admin, transfer=transfer)
    assert created["transfer"]["targets"][1] == {**BILLING, "description": ""}
    assert created["transfer"]["targets"][0]["trunk"] is None

    loader = StoreAgentLoader(api_context.pool, api_context.redis, api_context.box)
    settings = (await loader.settings(tenant.id, uuid.UUID(created["id"]))).transfer
    assert settings.enabled and settings.mode is TransferMode.WARM
    assert [(t.name, t.kind) for t in settings.targets] == [
        ("sales", "endpoint"),
        ("billing", "number"),
        ("front_desk", "dialplan"),
        ("ring_group", "endpoint"),
    ]

    url = f"/api/v1/agents/{created['id']}"
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"targets": [{**SALES, "target": "+1 555 0100"}]}, 400, "transfer.targets[0].target"),
        (
            {"targets": [{**SALES, "target": "PJSIP/1001&Local/x"}]},
            400,
            "transfer.targets[0].target",
        ),
        ({"targets": [{**SALES, "name": "sales team"}]}, 400, "transfer.targets[0].name"),
        ({"targets": [{**SALES, "target": "Local/300"}]}, 400, "transfer.targets[0].target"),
        ({"mode": "attended"}, 400, "transfer.mode"),
        ({"ring_timeout_s": 1}, 400, "transfer.ring_timeout_s"),
        ({"targets": [SALES, SALES]}, 422, "transfer.targets[1].name"),
        ({"targets": [{**SALES, "trunk": "trunk1"}]}, 422, "transfer.targets[0].trunk"),
        ({"targets": []}, 422, "transfer.targets"),
    ]
    for change, status, field in cases:
        bad = await client.patch(
            url, json={"transfer": {**transfer, **change}}, headers=tenant.admin
        )
        assert bad.status_code == status, (change, bad.text)
        assert field in [e["field"] for e in bad.json()["errors"]], (change, bad.json())
    unchanged = await client.get(url, headers=tenant.viewer)
    assert unchanged.json()["transfer"]["targets"] == created["transfer"]["targets"]
