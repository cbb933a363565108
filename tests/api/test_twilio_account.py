"""The Twilio account and Twilio numbers over the API: validation with the field named, the
token write-only and sealed at rest, tenancy, roles, and changes visible at once through the
config cache the Twilio adapter reads."""

from __future__ import annotations

import secrets
import uuid

import asyncpg
import httpx

from api.context import ApiContext
from api.routes.twilio import STATUS_PATH, VOICE_PATH
from store.secrets import SecretBox
from tests.api.conftest import MakeTenant, TenantHandle, create_agent
from twilio_adapter.accounts import TwilioAccounts
from twilio_adapter.urls import STATUS_PATH as ADAPTER_STATUS_PATH
from twilio_adapter.urls import VOICE_PATH as ADAPTER_VOICE_PATH
from twilio_adapter.urls import TwilioUrls

ACCOUNT = "/api/v1/twilio/account"


def _sid() -> str:
    return "AC" + uuid.uuid4().hex


def _token() -> str:
    return secrets.token_hex(16)


def _did() -> str:
    return f"+1555{uuid.uuid4().int % 10**7:07d}"


def _accounts(api_context: ApiContext) -> TwilioAccounts:
    return TwilioAccounts(api_context.pool, api_context.redis, api_context.box)


async def _connect(
    client: httpx.AsyncClient, tenant: TenantHandle, sid: str, token: str
) -> httpx.Response:
    response = await client.put(
        ACCOUNT, json={"account_sid": sid, "auth_token": token}, headers=tenant.admin
    )
    assert response.status_code == 200, response.text
    return response


async def test_account_is_stored_sealed_and_shown_masked(
    client: httpx.AsyncClient,
    make_tenant: MakeTenant,
    api_context: ApiContext,
    pg_pool: asyncpg.Pool,
    box: SecretBox,
) -> None:
    tenant = await make_tenant()
    sid, token = _sid(), _token()
    empty = await client.get("/api/v1/twilio", headers=tenant.viewer)
    assert empty.status_code == 200
    urls = TwilioUrls(api_context.settings.public_url)
    assert empty.json() == {
        "account": None,
        "numbers": [],
        "voice_url": urls.voice(),
        "status_url": urls.voice().replace(VOICE_PATH, STATUS_PATH),
    }
    assert (VOICE_PATH, STATUS_PATH) == (ADAPTER_VOICE_PATH, ADAPTER_STATUS_PATH)

    created = await _connect(client, tenant, sid, token)
    assert created.json()["account_sid"] == sid
    assert created.json()["auth_token"] == "****" + token[-4:]
    fetched = await client.get("/api/v1/twilio", headers=tenant.viewer)
    assert fetched.json()["account"] == created.json()
    assert token not in fetched.text

    row = await pg_pool.fetchrow(
        "SELECT account_sid, auth_token FROM twilio_accounts WHERE tenant_id = $1", tenant.id
    )
    assert row is not None and row["account_sid"] == sid
    assert token.encode() not in row["auth_token"]
    assert box.decrypt(row["auth_token"], "twilio_accounts.auth_token") == token

    logs = await client.get(
        "/api/v1/audit-logs", params={"entity_type": "twilio_account"}, headers=tenant.admin
    )
    assert [e["action"] for e in logs.json()["items"]] == ["create"]
    assert token not in logs.text and token[-4:] not in logs.text


async def test_replacing_the_account_takes_effect_at_once(
    client: httpx.AsyncClient, make_tenant: MakeTenant, api_context: ApiContext
) -> None:
    tenant = await make_tenant()
    accounts = _accounts(api_context)
    old_sid, new_sid, new_token = _sid(), _sid(), _token()
    await _connect(client, tenant, old_sid, _token())
    # Warm the cache the adapter reads, by tenant and by sid.
    assert (await accounts.for_tenant(tenant.id)) is not None
    assert (await accounts.for_account_sid(old_sid)) is not None

    # Twilio writes the hex of a sid in lower case; what an admin types is normalised to it.
    await _connect(client, tenant, new_sid.upper(), new_token)
    creds = await accounts.for_tenant(tenant.id)
    assert creds is not None
    assert (creds.account_sid, creds.auth_token) == (new_sid, new_token)
    assert await accounts.for_account_sid(old_sid) is None
    by_sid = await accounts.for_account_sid(new_sid)
    assert by_sid is not None and by_sid.tenant_id == tenant.id
    count = await api_context.pool.fetchval(
        "SELECT count(*) FROM twilio_accounts WHERE tenant_id = $1", tenant.id
    )
    assert count == 1
    logs = await client.get(
        "/api/v1/audit-logs", params={"entity_type": "twilio_account"}, headers=tenant.admin
    )
    assert sorted(e["action"] for e in logs.json()["items"]) == ["create", "update"]


async def test_bad_sid_and_token_are_named_and_change_nothing(
    client: httpx.AsyncClient, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    sid, token = _sid(), _token()
    await _connect(client, tenant, sid, token)
    cases = [
        ({"account_sid": "AC123", "auth_token": _token()}, ["account_sid"]),
        ({"account_sid": "XX" + uuid.uuid4().hex, "auth_token": _token()}, ["account_sid"]),
        ({"account_sid": _sid(), "auth_token": "not-hex-" + "0" * 24}, ["auth_token"]),
        ({"account_sid": _sid(), "auth_token": _token() + "0"}, ["auth_token"]),
        ({"account_sid": "", "auth_token": ""}, ["account_sid", "auth_token"]),
    ]
    for body, fields in cases:
        response = await client.put(ACCOUNT, json=body, headers=tenant.admin)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in response.json()["errors"]] == fields
    missing = await client.put(ACCOUNT, json={"account_sid": sid}, headers=tenant.admin)
    assert missing.status_code == 400
    assert missing.json()["errors"][0]["field"] == "auth_token"
    account = (await client.get("/api/v1/twilio", headers=tenant.admin)).json()["account"]
    assert (account["account_sid"], account["auth_token"]) == (sid, "****" + token[-4:])


async def test_a_sid_of_another_tenant_is_a_conflict(
    client: httpx.AsyncClient, make_tenant: MakeTenant, api_context: ApiContext
) -> None:
    first, second = await make_tenant(), await make_tenant()
    sid, token = _sid(), _token()
    await _connect(client, first, sid, token)
    taken = await client.put(
        ACCOUNT, json={"account_sid": sid, "auth_token": _token()}, headers=second.admin
    )
    assert taken.status_code == 409
    assert taken.json()["errors"][0]["field"] == "account_sid"
    assert "another tenant" in taken.json()["detail"]
    creds = await _accounts(api_context).for_account_sid(sid)
    assert creds is not None and (creds.tenant_id, creds.auth_token) == (first.id, token)
    assert (await client.get("/api/v1/twilio", headers=second.admin)).json()["account"] is None


async def test_another_tenant_can_neither_see_nor_change_it(
    client: httpx.AsyncClient, make_tenant: MakeTenant
) -> None:
    owner, stranger = await make_tenant(), await make_tenant()
    sid = _sid()
    did = _did()
    await create_agent(client, owner.admin, inbound_numbers=[did])
    await _connect(client, owner, sid, _token())
    await _connect(client, stranger, _sid(), _token())
    assert (await client.put(f"/api/v1/twilio/numbers/{did}", headers=owner.admin)).is_success

    seen = (await client.get("/api/v1/twilio", headers=stranger.admin)).json()
    assert seen["account"]["account_sid"] != sid
    assert seen["numbers"] == []
    for method in ("PUT", "DELETE"):
        response = await client.request(
            method, f"/api/v1/twilio/numbers/{did}", headers=stranger.admin
        )
        assert response.status_code == 404, response.text
    assert (await client.delete(ACCOUNT, headers=stranger.admin)).status_code == 204
    mine = (await client.get("/api/v1/twilio", headers=owner.admin)).json()
    assert mine["account"]["account_sid"] == sid
    assert [n["did"] for n in mine["numbers"]] == [did]


async def test_numbers_move_between_asterisk_and_twilio(
    client: httpx.AsyncClient, make_tenant: MakeTenant, api_context: ApiContext
) -> None:
    tenant = await make_tenant()
    accounts = _accounts(api_context)
    did, other_did = _did(), _did()
    agent = await create_agent(client, tenant.admin, inbound_numbers=[did, other_did])
    number = f"/api/v1/twilio/numbers/{did}"

    no_account = await client.put(number, headers=tenant.admin)
    assert no_account.status_code == 409
    assert "Twilio account" in no_account.json()["detail"]
    await _connect(client, tenant, _sid(), _token())
    for unknown in (_did(), "not-a-number"):
        response = await client.put(f"/api/v1/twilio/numbers/{unknown}", headers=tenant.admin)
        assert response.status_code == 404, response.text

    marked = await client.put(number, headers=tenant.admin)
    assert marked.status_code == 200, marked.text
    assert marked.json() == {"did": did, "agent_id": agent["id"]}
    listed = (await client.get("/api/v1/twilio", headers=tenant.viewer)).json()["numbers"]
    assert listed == [{"did": did, "agent_id": agent["id"]}]
    cached = await accounts.number(tenant.id, did)
    assert cached is not None and str(cached.agent_id) == agent["id"]

    # Clients that percent-encode the path (the UI's generated client does) reach the same number.
    encoded = f"/api/v1/twilio/numbers/{other_did.replace('+', '%2B')}"
    assert (await client.put(encoded, headers=tenant.admin)).json()["did"] == other_did
    assert (await client.delete(encoded, headers=tenant.admin)).status_code == 204

    unmarked = await client.delete(number, headers=tenant.admin)
    assert unmarked.status_code == 204
    assert await accounts.number(tenant.id, did) is None
    assert (await client.get("/api/v1/twilio", headers=tenant.viewer)).json()["numbers"] == []
    provider = await api_context.pool.fetchval(
        "SELECT provider FROM inbound_routes WHERE tenant_id = $1 AND did = $2", tenant.id, did
    )
    assert provider == "asterisk"
    missing = await client.delete(f"/api/v1/twilio/numbers/{_did()}", headers=tenant.admin)
    assert missing.status_code == 404

    logs = await client.get(
        "/api/v1/audit-logs",
        params={"entity_type": "twilio_number", "entity_id": did},
        headers=tenant.admin,
    )
    providers = [e["after"]["provider"] for e in logs.json()["items"]]
    assert sorted(providers) == ["asterisk", "twilio"]


async def test_deleting_the_account_takes_effect_at_once(
    client: httpx.AsyncClient, make_tenant: MakeTenant, api_context: ApiContext
) -> None:
    tenant = await make_tenant()
    accounts = _accounts(api_context)
    sid, did = _sid(), _did()
    await create_agent(client, tenant.admin, inbound_numbers=[did])
    await _connect(client, tenant, sid, _token())
    assert (await client.put(f"/api/v1/twilio/numbers/{did}", headers=tenant.admin)).is_success
    assert await accounts.for_tenant(tenant.id) is not None
    assert await accounts.for_account_sid(sid) is not None
    assert await accounts.number(tenant.id, did) is not None

    assert (await client.delete(ACCOUNT, headers=tenant.admin)).status_code == 204
    assert await accounts.for_tenant(tenant.id) is None
    assert await accounts.for_account_sid(sid) is None
    assert await accounts.number(tenant.id, did) is None
    assert (await client.delete(ACCOUNT, headers=tenant.admin)).status_code == 404
    logs = await client.get(
        "/api/v1/audit-logs", params={"entity_type": "twilio_account"}, headers=tenant.admin
    )
    assert sorted(e["action"] for e in logs.json()["items"]) == ["create", "delete"]


async def test_viewers_read_but_cannot_change(
    client: httpx.AsyncClient, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    did = _did()
    await create_agent(client, tenant.admin, inbound_numbers=[did])
    body = {"account_sid": _sid(), "auth_token": _token()}
    refused = [
        await client.put(ACCOUNT, json=body, headers=tenant.viewer),
        await client.delete(ACCOUNT, headers=tenant.viewer),
        await client.put(f"/api/v1/twilio/numbers/{did}", headers=tenant.viewer),
        await client.delete(f"/api/v1/twilio/numbers/{did}", headers=tenant.viewer),
    ]
    assert [r.status_code for r in refused] == [403, 403, 403, 403]
    assert (await client.get("/api/v1/twilio", headers=tenant.viewer)).json()["account"] is None
    assert (await client.get("/api/v1/twilio")).status_code == 401
    assert (await client.put(ACCOUNT, json=body, headers=tenant.key)).status_code == 200


async def test_editing_an_agents_numbers_keeps_the_ones_on_twilio_there(
    client: httpx.AsyncClient, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    did, added = _did(), _did()
    agent = await create_agent(client, tenant.admin, inbound_numbers=[did])
    await _connect(client, tenant, _sid(), _token())
    assert (await client.put(f"/api/v1/twilio/numbers/{did}", headers=tenant.admin)).is_success
    edited = await client.patch(
        f"/api/v1/agents/{agent['id']}",
        json={"inbound_numbers": [did, added], "name": "renamed"},
        headers=tenant.admin,
    )
    assert edited.status_code == 200, edited.text
    listed = (await client.get("/api/v1/twilio", headers=tenant.viewer)).json()["numbers"]
    assert listed == [{"did": did, "agent_id": agent["id"]}]
