"""Provider credentials: catalog, write-only keys, vendor and option validation, key checks."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from api.app import create_app
from api.context import ApiContext
from ari_app.agent_loader import StoreAgentLoader
from store.repositories.config import ProviderCredentialRepository
from store.secrets import SecretBox
from tests.api.conftest import (
    OFFLINE_AGENT,
    TenantHandle,
    client_for,
    create_agent,
    with_settings,
)
from tests.fakes.deepgram_tts import FakeDeepgramTTS
from vocals.net import free_port

# What the Test button says to a key the vendor refused: the words `vocals providers check` says.
REFUSED_BY_DEEPGRAM = "the key was refused by deepgram: check it in your deepgram account"


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
    # When the catalog's models were last checked against the vendor's documentation.
    assert vendors[("llm", "claude")]["checked"] == "2026-12-05"
    assert vendors[("tts", "piper")]["checked"] is None


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
    private_client: httpx.AsyncClient, tenant: TenantHandle
) -> None:
    fake = FakeDeepgramTTS(api_key="good-key-0001")
    base_url = await fake.start()
    try:
        ids = {}
        for label, key in (("good", "good-key-0001"), ("bad", "bad-key-0002")):
            created = await private_client.post(
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
        good = await private_client.post(
            f"/api/v1/providers/{ids['good']}/test", headers=tenant.admin
        )
        bad = await private_client.post(
            f"/api/v1/providers/{ids['bad']}/test", headers=tenant.admin
        )
    finally:
        await fake.stop()
    assert good.status_code == 200, good.text
    assert good.json() == {"ok": True, "vendor": "deepgram"}
    assert bad.status_code == 422
    # The words `vocals providers check` says, and nothing of the vendor's own answer.
    assert bad.json()["detail"] == REFUSED_BY_DEEPGRAM
    assert [r.path for r in fake.requests] == ["/v1/projects", "/v1/projects"]
    # Each result is kept on the provider, for the list and the health panel.
    listed = await private_client.get("/api/v1/providers?kind=tts", headers=tenant.viewer)
    kept = {p["id"]: p["last_test"] for p in listed.json()["items"]}
    assert kept[ids["good"]]["ok"] is True
    assert kept[ids["bad"]]["ok"] is False
    assert kept[ids["bad"]]["message"] == bad.json()["detail"]


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


async def test_editing_a_credential_reaches_the_next_call_at_once(
    client: httpx.AsyncClient,
    tenant: TenantHandle,
    pg_pool: asyncpg.Pool,
    redis: Redis,
    box: SecretBox,
) -> None:
    created = await client.post(
        "/api/v1/providers",
        json={"name": "cached", "kind": "llm", "vendor": "openai", "api_key": "sk-first-1111"},
        headers=tenant.admin,
    )
    provider_id = created.json()["id"]
    agent = await create_agent(
        client, tenant.admin, llm={"credential_id": provider_id, "options": {}}
    )
    loader = StoreAgentLoader(pg_pool, redis, box)
    agent_id = uuid.UUID(agent["id"])
    assert (await loader.settings(tenant.id, agent_id)).llm.api_key == "sk-first-1111"
    await client.patch(
        f"/api/v1/providers/{provider_id}", json={"api_key": "sk-second-2222"}, headers=tenant.admin
    )
    assert (await loader.settings(tenant.id, agent_id)).llm.api_key == "sk-second-2222"
    # A credential an agent uses is not deleted, and the refusal leaves the cache as it was.
    refused = await client.delete(f"/api/v1/providers/{provider_id}", headers=tenant.admin)
    assert refused.status_code == 409
    assert (await loader.settings(tenant.id, agent_id)).llm.api_key == "sk-second-2222"


@pytest.fixture(scope="module")
async def private_client(api_context: ApiContext) -> AsyncIterator[httpx.AsyncClient]:
    """The API of an operator who allows private destinations (local model servers)."""
    app = create_app(with_settings(api_context, allow_private_urls=True))
    async with client_for(app) as client:
        yield client


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://127.1:8080/v1",
        "http://2130706433/",
        "http://localhost./v1",
        "wss://[::1]/ws",
        "http://10.0.0.5/v1",
    ],
)
async def test_provider_urls_into_the_deployment_are_refused(
    client: httpx.AsyncClient, tenant: TenantHandle, url: str
) -> None:
    credential = await client.post(
        "/api/v1/providers",
        json={"name": "internal", "kind": "llm", "vendor": "openai_compatible",
              "options": {"base_url": url}},
        headers=tenant.admin,
    )  # fmt: skip
    assert credential.status_code == 422, credential.text
    assert credential.json()["errors"][0]["field"] == "options.base_url"
    agent = await client.post(
        "/api/v1/agents",
        json={**OFFLINE_AGENT, "name": "internal",
              "llm": {"vendor": "openai_compatible", "options": {"base_url": url}}},
        headers=tenant.admin,
    )  # fmt: skip
    assert agent.status_code == 422, agent.text
    assert agent.json()["errors"][0]["field"] == "llm.options.base_url"


async def test_local_model_servers_work_when_the_operator_allows_them(
    private_client: httpx.AsyncClient, tenant: TenantHandle
) -> None:
    agent = await private_client.post(
        "/api/v1/agents",
        json={**OFFLINE_AGENT, "name": "local-llm",
              "llm": {"vendor": "openai_compatible",
                      "options": {"base_url": "http://127.0.0.1:8080/v1"}}},
        headers=tenant.admin,
    )  # fmt: skip
    assert agent.status_code == 201, agent.text


SECRET_PAGE = b"internal-secret-0123456789"


async def _port_answering(raw: bytes | None) -> tuple[int, asyncio.Server | None]:
    """A loopback port: answering `raw` to anything (an HTTP server or not), or closed."""
    if raw is None:
        return free_port(), None

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(raw)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    return server.sockets[0].getsockname()[1], server


PORTS = {
    "http": b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 26\r\nConnection: close\r\n\r\n"
    + SECRET_PAGE,
    "not http": b"SSH-2.0-OpenSSH_9.6 " + SECRET_PAGE + b"\r\n",
    "closed": None,
}


async def test_a_credential_check_never_echoes_what_the_address_answered(
    private_client: httpx.AsyncClient, client: httpx.AsyncClient, tenant: TenantHandle
) -> None:
    answers: dict[str, tuple[int, str]] = {}
    refused: dict[str, tuple[int, str]] = {}
    for label, raw in PORTS.items():
        port, server = await _port_answering(raw)
        try:
            created = await private_client.post(
                "/api/v1/providers",
                json={"name": f"scan-{label}", "kind": "tts", "vendor": "deepgram",
                      "api_key": "key-0001",
                      "options": {"base_url": f"http://127.0.0.1:{port}", "max_attempts": 1}},
                headers=tenant.admin,
            )  # fmt: skip
            assert created.status_code == 201, created.text
            path = f"/api/v1/providers/{created.json()['id']}/test"
            allowed = await private_client.post(path, headers=tenant.admin)
            answers[label] = (allowed.status_code, allowed.json()["detail"])
            # The operator no longer allows private destinations: nothing is connected to.
            blocked = await client.post(path, headers=tenant.admin)
            refused[label] = (blocked.status_code, blocked.json()["detail"])
        finally:
            if server is not None:
                server.close()
    assert all(SECRET_PAGE.decode() not in detail for _, detail in answers.values())
    assert answers["http"] == (422, REFUSED_BY_DEEPGRAM)
    assert len(set(refused.values())) == 1
    assert next(iter(refused.values()))[0] == 422


async def test_a_provider_key_must_be_printable_ascii(
    client: httpx.AsyncClient, tenant: TenantHandle
) -> None:
    created = await client.post(
        "/api/v1/providers",
        json={"name": "unicode", "kind": "tts", "vendor": "deepgram", "api_key": "kéy-ünï"},
        headers=tenant.admin,
    )
    assert created.status_code == 400
    assert created.json()["errors"][0]["field"] == "api_key"


async def test_a_stored_key_no_header_can_carry_fails_its_check_with_a_reason(
    client: httpx.AsyncClient, tenant: TenantHandle, pg_pool: asyncpg.Pool, box: SecretBox
) -> None:
    """A key saved before keys had to be ASCII: its check is a 422, not a 500."""
    row = await ProviderCredentialRepository(pg_pool, box).create(
        tenant.id,
        {"name": "legacy-unicode", "kind": "tts", "vendor": "deepgram", "api_key": "kéy-ünï",
         "api_key_last4": "-ünï", "model": None, "options": {"max_attempts": 1}},
    )  # fmt: skip
    checked = await client.post(f"/api/v1/providers/{row.id}/test", headers=tenant.admin)
    assert checked.status_code == 422, checked.text
    assert "characters" in checked.json()["detail"]


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
