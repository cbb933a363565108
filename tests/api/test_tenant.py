"""The tenant's own settings: read by anyone in it, changed by owners only, audit-logged."""

from __future__ import annotations

import httpx

from tests.api.conftest import MakeTenant


async def test_owner_allows_private_webhooks(
    client: httpx.AsyncClient, make_tenant: MakeTenant
) -> None:
    owner = await make_tenant()
    current = await client.get("/api/v1/tenant", headers=owner.viewer)
    assert current.status_code == 200
    assert current.json()["allow_private_webhooks"] is False
    assert current.json()["id"] == str(owner.id)
    hook = {"url": "http://127.0.0.1:9/hook", "events": ["call.ended"]}
    refused = await client.post("/api/v1/webhooks", json=hook, headers=owner.admin)
    assert refused.status_code == 422
    for headers in (owner.viewer, owner.admin):
        denied = await client.patch(
            "/api/v1/tenant", json={"allow_private_webhooks": True}, headers=headers
        )
        assert denied.status_code == 403
    bad = await client.patch(
        "/api/v1/tenant", json={"allow_private_webhooks": "yes"}, headers=owner.owner
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "allow_private_webhooks"
    changed = await client.patch(
        "/api/v1/tenant", json={"allow_private_webhooks": True}, headers=owner.owner
    )
    assert changed.json()["allow_private_webhooks"] is True
    accepted = await client.post("/api/v1/webhooks", json=hook, headers=owner.admin)
    assert accepted.status_code == 201
    logs = await client.get("/api/v1/audit-logs?entity_type=tenant", headers=owner.viewer)
    assert logs.json()["items"][0]["after"]["allow_private_webhooks"] is True
