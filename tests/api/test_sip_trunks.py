"""SIP trunks: provisioning's whitelists with the field named, write-only passwords, reload
results reported, inbound routes, roles and tenancy."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import httpx
import pytest

from api.app import create_app
from api.context import ApiContext
from provisioning.models import Trunk
from provisioning.reload import ReloadResult
from provisioning.status import TrunkStatus
from provisioning.validation import validate_trunk
from tests.api.conftest import TenantHandle, client_for, create_agent

REGISTRATION = {
    "name": "carrier",
    "kind": "registration",
    "host": "sip.carrier.example",
    "port": 5060,
    "transport": "udp",
    "username": "acct1001",
    "password": "s3cret-Pass",
    "from_user": "acct1001",
    "from_domain": "carrier.example",
    "codecs": ["alaw", "ulaw"],
    "dtmf_mode": "rfc4733",
    "max_cps": 2,
    "max_calls": 20,
}


def _with_hook(
    context: ApiContext, hook: Callable[[uuid.UUID], Awaitable[ReloadResult]]
) -> ApiContext:
    fields = {name: getattr(context, name) for name in context.__dataclass_fields__}
    return ApiContext(**{**fields, "on_trunks_changed": hook})


async def test_crud_reloads_asterisk_and_hides_the_password(
    api_context: ApiContext, tenant: TenantHandle
) -> None:
    reloads: list[uuid.UUID] = []

    async def reload(tenant_id: uuid.UUID) -> ReloadResult:
        reloads.append(tenant_id)
        return ReloadResult(outcome="applied", endpoints=("t1",))

    async with client_for(create_app(_with_hook(api_context, reload))) as client:
        agent = await create_agent(client, tenant.admin)
        body = {
            **REGISTRATION,
            "inbound_routes": [{"did": "+15550003001", "agent_id": agent["id"]}],
        }
        created = await client.post("/api/v1/sip-trunks", json=body, headers=tenant.admin)
        assert created.status_code == 201, created.text
        trunk = created.json()
        assert "password" not in trunk
        assert trunk["has_password"] is True
        assert trunk["codecs"] == ["alaw", "ulaw"]
        assert trunk["reload"] == {"ok": True, "outcome": "applied", "reason": None}
        assert trunk["inbound_routes"] == [{"did": "+15550003001", "agent_id": agent["id"]}]
        updated = await client.patch(
            f"/api/v1/sip-trunks/{trunk['id']}", json={"max_cps": 5}, headers=tenant.admin
        )
        assert updated.status_code == 200, updated.text
        assert updated.json()["max_cps"] == 5
        assert updated.json()["has_password"] is True
        fetched = await client.get(f"/api/v1/sip-trunks/{trunk['id']}", headers=tenant.viewer)
        assert "s3cret" not in fetched.text
        deleted = await client.delete(f"/api/v1/sip-trunks/{trunk['id']}", headers=tenant.admin)
        assert deleted.status_code == 200
        assert deleted.json()["reload"]["ok"] is True
        logs = await client.get(f"/api/v1/audit-logs?entity_id={trunk['id']}", headers=tenant.admin)
    assert reloads == [tenant.id, tenant.id, tenant.id]
    assert "s3cret" not in logs.text
    assert [e["action"] for e in logs.json()["items"]] == ["delete", "update", "create"]


async def test_failed_reload_is_reported_with_its_reason(
    api_context: ApiContext, tenant: TenantHandle
) -> None:
    async def reload(tenant_id: uuid.UUID) -> ReloadResult:
        return ReloadResult(outcome="rolled_back", reason="endpoint trunk-x missing after reload")

    async with client_for(create_app(_with_hook(api_context, reload))) as client:
        created = await client.post(
            "/api/v1/sip-trunks",
            json={**REGISTRATION, "name": "flaky"},
            headers=tenant.admin,
        )
    assert created.status_code == 201
    assert created.json()["reload"] == {
        "ok": False,
        "outcome": "rolled_back",
        "reason": "endpoint trunk-x missing after reload",
    }


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"host": "evil.example;\n[inject]"}, 422, "host"),
        ({"port": 70000}, 422, "port"),
        ({"username": "user@host"}, 422, "username"),
        ({"password": "pass\tword"}, 422, "password"),
        ({"password": ">leading"}, 422, "password"),
        ({"password": None}, 422, "password"),
        ({"from_domain": "bad domain"}, 422, "from_domain"),
        ({"codecs": []}, 422, "codecs"),
        ({"codecs": ["ulaw", "ulaw"]}, 422, "codecs"),
        ({"codecs": ["gsm"]}, 400, "codecs[0]"),
        ({"transport": "ws"}, 400, "transport"),
        ({"kind": "peer"}, 400, "kind"),
        ({"dtmf_mode": "sip"}, 400, "dtmf_mode"),
        ({"max_cps": 0}, 422, "max_cps"),
        ({"max_calls": 0}, 422, "max_calls"),
        ({"name": "line\nbreak"}, 422, "name"),
        ({"name": "main carrier"}, 422, "name"),
        (
            {"inbound_routes": [{"did": "12ab", "agent_id": str(uuid.uuid4())}]},
            422,
            "inbound_routes[0].did",
        ),
        (
            {"inbound_routes": [{"did": "+15550003999", "agent_id": str(uuid.uuid4())}]},
            422,
            "inbound_routes[0].agent_id",
        ),
    ],
)
async def test_validation_names_the_field(
    client: httpx.AsyncClient,
    tenant: TenantHandle,
    change: dict[str, object],
    status: int,
    field: str,
) -> None:
    response = await client.post(
        "/api/v1/sip-trunks",
        json={**REGISTRATION, "name": f"bad-{uuid.uuid4().hex[:6]}", **change},
        headers=tenant.admin,
    )
    assert response.status_code == status, response.text
    assert field in [e["field"] for e in response.json()["errors"]], response.json()


async def test_ip_trunk_without_credentials(
    client: httpx.AsyncClient, tenant: TenantHandle
) -> None:
    created = await client.post(
        "/api/v1/sip-trunks",
        json={"name": "pbx", "kind": "ip", "host": "203.0.113.10", "transport": "tcp"},
        headers=tenant.admin,
    )
    assert created.status_code == 201, created.text
    assert created.json()["has_password"] is False
    assert created.json()["reload"] is None
    to_registration = await client.patch(
        f"/api/v1/sip-trunks/{created.json()['id']}",
        json={"kind": "registration"},
        headers=tenant.admin,
    )
    assert to_registration.status_code == 422
    fields = {e["field"] for e in to_registration.json()["errors"]}
    assert fields == {"username", "password"}


async def test_roles_and_tenancy(
    client: httpx.AsyncClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    created = await client.post(
        "/api/v1/sip-trunks", json={**REGISTRATION, "name": "mine"}, headers=tenant.owner
    )
    trunk_id = created.json()["id"]
    viewer = await client.post(
        "/api/v1/sip-trunks", json={**REGISTRATION, "name": "v"}, headers=tenant.viewer
    )
    assert viewer.status_code == 403
    for method in ("GET", "PATCH", "DELETE"):
        body = {"max_cps": 3} if method == "PATCH" else None
        response = await client.request(
            method, f"/api/v1/sip-trunks/{trunk_id}", headers=other_tenant.owner, json=body
        )
        assert response.status_code == 404, method
    listed = await client.get("/api/v1/sip-trunks?kind=registration", headers=tenant.viewer)
    assert trunk_id in [t["id"] for t in listed.json()["items"]]
    other = await client.get("/api/v1/sip-trunks", headers=other_tenant.viewer)
    assert trunk_id not in [t["id"] for t in other.json()["items"]]


async def test_live_status_asks_asterisk_through_the_process_hook(
    api_context: ApiContext,
    client: httpx.AsyncClient,
    tenant: TenantHandle,
    other_tenant: TenantHandle,
) -> None:
    asked: list[Trunk] = []

    async def status(trunk: Trunk) -> TrunkStatus:
        asked.append(trunk)
        return TrunkStatus(
            trunk_id=trunk.id,
            endpoint="vocals-x",
            endpoint_state="online",
            active_channels=2,
            registration="Registered",
        )

    agent = await create_agent(client, tenant.admin)
    created = await client.post(
        "/api/v1/sip-trunks",
        json={
            **REGISTRATION,
            "name": "status-trunk",
            "inbound_routes": [{"did": "+15550003500", "agent_id": agent["id"]}],
        },
        headers=tenant.admin,
    )
    trunk_id = created.json()["id"]
    without_asterisk = await client.get(
        f"/api/v1/sip-trunks/{trunk_id}/status", headers=tenant.viewer
    )
    assert without_asterisk.status_code == 503
    fields = {name: getattr(api_context, name) for name in api_context.__dataclass_fields__}
    async with client_for(create_app(ApiContext(**{**fields, "trunk_status": status}))) as live:
        response = await live.get(f"/api/v1/sip-trunks/{trunk_id}/status", headers=tenant.viewer)
        foreign = await live.get(
            f"/api/v1/sip-trunks/{trunk_id}/status", headers=other_tenant.viewer
        )
    assert response.status_code == 200
    assert response.json()["registration"] == "Registered"
    assert foreign.status_code == 404
    assert asked[0].password == REGISTRATION["password"]
    assert asked[0].inbound_routes[0].did == "+15550003500"
    assert validate_trunk(asked[0]) == []


async def test_passwords_asterisk_reads_specially_are_accepted_and_the_schema_agrees(
    client: httpx.AsyncClient, tenant: TenantHandle
) -> None:
    schema = (await client.get("/api/v1/openapi.json")).json()["components"]["schemas"]
    for name in ("TrunkCreate", "TrunkUpdate"):
        assert schema[name]["properties"]["password"]["maxLength"] == 128
    for password in ("a;--b--;\\;#[x]", "p" * 128):
        created = await client.post(
            "/api/v1/sip-trunks",
            json={**REGISTRATION, "name": f"esc-{len(password)}", "password": password},
            headers=tenant.admin,
        )
        assert created.status_code == 201, created.text
    too_long = await client.post(
        "/api/v1/sip-trunks",
        json={**REGISTRATION, "name": "long", "password": "p" * 129},
        headers=tenant.admin,
    )
    assert too_long.status_code == 400, too_long.text
