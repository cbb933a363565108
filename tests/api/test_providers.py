"""Provider credentials: catalog, write-only keys, vendor and option validation, key checks."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import TenantHandle, create_agent
from tests.fakes.deepgram_tts import FakeDeepgramTTS


async def test_catalog_lists_vendors_with_option_schemas(
    client: httpx.AsyncClient, tenant: TenantHandle
) -> None:
    response = await client.get("/api/v1/providers/catalog", headers=tenant.viewer)
    assert response.status_code == 200
    vendors = {(v["kind"], v["vendor"]): v for v in response.json()["vendors"]}
    assert ("tts", "piper") in vendors
    assert vendors[("tts", "piper")]["offline"] is True
    assert vendors[("llm", "openai")]["needs_api_key"] is True
    assert "properties" in vendors[("llm", "scripted")]["options_schema"]


async def test_api_key_is_write_only(client: httpx.AsyncClient, tenant: TenantHandle) -> None:
    created = await client.post(
        "/api/v1/providers",
        json={
            "name": "openai-main",
            "kind": "llm",
            "vendor": "openai",
            "api_key": "sk-secret-value-1234",
            "model": "gpt-4.1-mini",
        },
        headers=tenant.admin,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["api_key"] == "****1234"
    fetched = await client.get(f"/api/v1/providers/{body['id']}", headers=tenant.viewer)
    assert "sk-secret" not in fetched.text
    renamed = await client.patch(
        f"/api/v1/providers/{body['id']}", json={"name": "openai-2"}, headers=tenant.admin
    )
    assert renamed.json()["api_key"] == "****1234"
    rekeyed = await client.patch(
        f"/api/v1/providers/{body['id']}", json={"api_key": "sk-new-key-9876"}, headers=tenant.admin
    )
    assert rekeyed.json()["api_key"] == "****9876"
    cleared = await client.patch(
        f"/api/v1/providers/{body['id']}", json={"api_key": None}, headers=tenant.admin
    )
    assert cleared.status_code == 422
    assert cleared.json()["errors"][0]["field"] == "api_key"
    logs = await client.get(f"/api/v1/audit-logs?entity_id={body['id']}", headers=tenant.admin)
    assert "sk-" not in logs.text
    agent = await create_agent(
        client, tenant.admin, llm={"credential_id": body["id"], "options": {}}
    )
    assert agent["llm"]["credential_id"] == body["id"]
    assert agent["llm"]["vendor"] == "openai"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "llm", "vendor": "acme"}, "vendor"),
        ({"kind": "tts", "vendor": "openai"}, "api_key"),
        ({"kind": "llm", "vendor": "scripted", "options": {"colour": "red"}}, "options.colour"),
    ],
)
async def test_validation_names_the_field(
    client: httpx.AsyncClient, tenant: TenantHandle, body: dict[str, object], field: str
) -> None:
    response = await client.post(
        "/api/v1/providers", json={"name": "bad", **body}, headers=tenant.admin
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field


async def test_bad_kind_is_400(client: httpx.AsyncClient, tenant: TenantHandle) -> None:
    response = await client.post(
        "/api/v1/providers", json={"name": "x", "kind": "vad", "vendor": "x"}, headers=tenant.admin
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "kind"


async def test_credential_check_against_the_vendor(
    client: httpx.AsyncClient, tenant: TenantHandle
) -> None:
    fake = FakeDeepgramTTS(api_key="good-key-0001")
    base_url = await fake.start()
    try:
        ids = {}
        for label, key in (("good", "good-key-0001"), ("bad", "bad-key-0002")):
            created = await client.post(
                "/api/v1/providers",
                json={
                    "name": f"deepgram-{label}",
                    "kind": "tts",
                    "vendor": "deepgram",
                    "api_key": key,
                    "options": {"base_url": base_url, "max_attempts": 1},
                },
                headers=tenant.admin,
            )
            assert created.status_code == 201, created.text
            ids[label] = created.json()["id"]
        good = await client.post(f"/api/v1/providers/{ids['good']}/test", headers=tenant.admin)
        bad = await client.post(f"/api/v1/providers/{ids['bad']}/test", headers=tenant.admin)
    finally:
        await fake.stop()
    assert good.status_code == 200, good.text
    assert good.json() == {"ok": True, "vendor": "deepgram"}
    assert bad.status_code == 422
    assert bad.json()["detail"].startswith("deepgram")
    assert [r.path for r in fake.requests] == ["/v1/projects", "/v1/projects"]


async def test_offline_vendor_check_passes(client: httpx.AsyncClient, tenant: TenantHandle) -> None:
    created = await client.post(
        "/api/v1/providers",
        json={"name": "piper-local", "kind": "tts", "vendor": "piper"},
        headers=tenant.admin,
    )
    assert created.json()["api_key"] is None
    checked = await client.post(
        f"/api/v1/providers/{created.json()['id']}/test", headers=tenant.admin
    )
    assert checked.status_code == 200


async def test_roles_and_tenancy(
    client: httpx.AsyncClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    created = await client.post(
        "/api/v1/providers",
        json={"name": "sphinx", "kind": "stt", "vendor": "pocketsphinx"},
        headers=tenant.owner,
    )
    provider_id = created.json()["id"]
    viewer = await client.post(
        "/api/v1/providers",
        json={"name": "v", "kind": "stt", "vendor": "pocketsphinx"},
        headers=tenant.viewer,
    )
    assert viewer.status_code == 403
    assert (
        await client.post(f"/api/v1/providers/{provider_id}/test", headers=tenant.viewer)
    ).status_code == 403
    for method, path in (
        ("GET", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("POST", "/test"),
    ):
        body = {"name": "x"} if method == "PATCH" else None
        response = await client.request(
            method, f"/api/v1/providers/{provider_id}{path}", headers=other_tenant.owner, json=body
        )
        assert response.status_code == 404, (method, path)
    agent = await client.post(
        "/api/v1/agents",
        json={
            "name": "borrower",
            "stt": {"credential_id": provider_id},
            "llm": {"vendor": "scripted"},
            "tts": {"vendor": "piper"},
        },
        headers=other_tenant.admin,
    )
    assert agent.status_code == 422
    assert agent.json()["errors"][0]["field"] == "stt.credential_id"
    listed = await client.get("/api/v1/providers?kind=stt", headers=tenant.viewer)
    assert all(p["kind"] == "stt" for p in listed.json()["items"])
    deleted = await client.delete(f"/api/v1/providers/{provider_id}", headers=tenant.admin)
    assert deleted.status_code == 204


async def test_a_provider_agents_use_is_not_deleted(
    client: httpx.AsyncClient, tenant: TenantHandle
) -> None:
    created = await client.post(
        "/api/v1/providers",
        json={"name": "sphinx-in-use", "kind": "stt", "vendor": "pocketsphinx"},
        headers=tenant.admin,
    )
    assert created.status_code == 201, created.text
    provider_id = created.json()["id"]
    for name in ("Front desk", "After hours"):
        await create_agent(client, tenant.admin, name=name, stt={"credential_id": provider_id})
    path = f"/api/v1/providers/{provider_id}"

    refused = await client.delete(path, headers=tenant.admin)
    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"] == (
        "This provider is used by agents After hours, Front desk: switch them to another first."
    )
    assert (await client.get(path, headers=tenant.viewer)).status_code == 200

    for agent in (await client.get("/api/v1/agents", headers=tenant.viewer)).json()["items"]:
        if agent["stt"].get("credential_id") == provider_id:
            switched = await client.patch(
                f"/api/v1/agents/{agent['id']}",
                json={"stt": {"vendor": "pocketsphinx"}},
                headers=tenant.admin,
            )
            assert switched.status_code == 200, switched.text
    assert (await client.delete(path, headers=tenant.admin)).status_code == 204
