"""The caller's tenant, read by anyone in it; private destinations are not a tenant's to allow."""

from __future__ import annotations

import httpx

from tests.api.conftest import MakeTenant


async def test_the_tenant_reads_itself_and_cannot_allow_private_destinations(
    client: httpx.AsyncClient, make_tenant: MakeTenant
) -> None:
    owner = await make_tenant()
    current = await client.get("/api/v1/tenant", headers=owner.viewer)
    assert current.status_code == 200
    assert current.json()["id"] == str(owner.id)
    assert "allow_private_webhooks" not in current.json()
    changed = await client.patch(
        "/api/v1/tenant", json={"allow_private_webhooks": True}, headers=owner.owner
    )
    assert changed.status_code == 400
    assert changed.json()["errors"][0]["field"] == "allow_private_webhooks"
    hook = {"url": "http://127.0.0.1:9/hook", "events": ["call.ended"]}
    refused = await client.post("/api/v1/webhooks", json=hook, headers=owner.owner)
    assert refused.status_code == 422
