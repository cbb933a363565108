"""Passkeys (WebAuthn) as a second factor through the API, with a software authenticator:
registration checked against its challenge and origin, sign-in with an assertion (a replayed
one or one from a cloned authenticator refused), removal, enforcement, and the audit trail."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest
from litestar import Litestar

from api.app import create_app
from api.auth import Session, credential_fingerprint, open_session
from api.context import ApiContext
from store.repositories.config import UserRepository
from tests.api.conftest import PASSWORD, MakeTenant, TenantHandle, bearer, client_for, with_settings
from tests.fakes.authenticator import SoftAuthenticator

ORIGIN = "http://localhost:8000"
PASSKEYS = "/api/v1/auth/passkeys"
LOGIN = "/api/v1/auth/login"
PASSWORDLESS = "/api/v1/auth/passkey-sign-in"


@pytest.fixture
def passkey_app(api_context: ApiContext) -> Litestar:
    return create_app(with_settings(api_context, public_url=ORIGIN))


async def _options(client: httpx.AsyncClient, url: str, **kwargs: Any) -> dict[str, Any]:
    response = await client.post(url, **kwargs)
    assert response.status_code == 200, response.text
    options: dict[str, Any] = response.json()["options"]
    return options


async def _register(
    client: httpx.AsyncClient, headers: dict[str, str], authenticator: SoftAuthenticator
) -> httpx.Response:
    options = await _options(client, f"{PASSKEYS}/registration-options", headers=headers)
    return await client.post(
        PASSKEYS,
        json={"name": "Laptop", "credential": authenticator.create(options)},
        headers=headers,
    )


async def _pending(client: httpx.AsyncClient, email: str) -> dict[str, Any]:
    response = await client.post(LOGIN, json={"email": email, "password": PASSWORD})
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


async def _sign(
    client: httpx.AsyncClient, pending_token: str, authenticator: SoftAuthenticator
) -> httpx.Response:
    options = await _options(
        client, f"{LOGIN}/passkey/options", json={"pending_token": pending_token}
    )
    assert options["rpId"] == "localhost"
    return await client.post(
        f"{LOGIN}/passkey",
        json={"pending_token": pending_token, "credential": authenticator.get(options)},
    )


async def _audit(client: httpx.AsyncClient, tenant: TenantHandle, action: str) -> list[Any]:
    response = await client.get(
        "/api/v1/audit-logs", params={"action": action}, headers=tenant.viewer
    )
    items: list[Any] = response.json()["items"]
    return items


async def test_a_passkey_is_registered_then_signs_in_as_the_second_factor(
    passkey_app: Litestar, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    email = f"admin@{tenant.name}.example"
    key = SoftAuthenticator(origin=ORIGIN)
    async with client_for(passkey_app) as client:
        options = await _options(client, f"{PASSKEYS}/registration-options", headers=tenant.admin)
        phished = await client.post(
            PASSKEYS,
            json={
                "name": "Elsewhere",
                "credential": key.create(options, origin="http://evil.example"),
            },
            headers=tenant.admin,
        )
        assert phished.status_code == 422
        assert phished.json()["errors"][0]["field"] == "credential"
        registered = await _register(client, tenant.admin, key)
        assert registered.status_code == 201, registered.text
        listed = await client.get(PASSKEYS, headers=tenant.admin)
        assert [p["name"] for p in listed.json()["items"]] == ["Laptop"]
        status = await client.get("/api/v1/auth/two-factor", headers=tenant.admin)
        assert (status.json()["passkeys"], status.json()["enabled"]) == (1, False)

        assert len(set(registered.json()["recovery_codes"])) == 10
        pending = await _pending(client, email)
        assert pending["methods"] == ["passkey", "recovery_code"]
        signed_in = await _sign(client, pending["pending_token"], key)
        assert signed_in.status_code == 200, signed_in.text
        me = await client.get("/api/v1/auth/me", headers=bearer(signed_in.json()["token"]))
        assert me.json()["actor"] == email
        spent = await client.post(
            f"{LOGIN}/passkey/options", json={"pending_token": pending["pending_token"]}
        )
        assert spent.status_code == 401

        # An assertion seen once does not sign in again: its challenge was spent.
        second = await _pending(client, email)
        options = await _options(
            client, f"{LOGIN}/passkey/options", json={"pending_token": second["pending_token"]}
        )
        assertion = key.get(options)
        used = await client.post(
            f"{LOGIN}/passkey",
            json={"pending_token": second["pending_token"], "credential": assertion},
        )
        assert used.status_code == 200
        replayed = await client.post(
            f"{LOGIN}/passkey",
            json={
                "pending_token": (await _pending(client, email))["pending_token"],
                "credential": assertion,
            },
        )
        assert replayed.status_code == 422

        cloned = SoftAuthenticator(
            origin=ORIGIN, key=key.key, credential_id=key.credential_id, sign_count=0
        )
        refused = await _sign(client, (await _pending(client, email))["pending_token"], cloned)
        assert refused.status_code == 422
        assert "not accepted" in refused.json()["detail"]

        methods = [e["after"]["method"] for e in await _audit(client, tenant, "sign_in")]
        assert methods.count("password+passkey") == 2
        added = await _audit(client, tenant, "add_passkey")
        assert [(e["actor"], e["after"]) for e in added] == [(email, {"passkey": "Laptop"})]


async def test_a_removed_passkey_no_longer_asks_and_enforcement_counts_passkeys(
    passkey_app: Litestar, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    email = f"admin@{tenant.name}.example"
    async with client_for(passkey_app) as client:
        required = await client.patch(
            "/api/v1/tenant", json={"require_two_factor": True}, headers=tenant.owner
        )
        assert required.status_code == 200
        assert (await client.get("/api/v1/agents", headers=tenant.admin)).status_code == 403
        registered = await _register(client, tenant.admin, SoftAuthenticator(origin=ORIGIN))
        assert registered.status_code == 201
        assert (await client.get("/api/v1/agents", headers=tenant.admin)).status_code == 200

        passkey_id = registered.json()["id"]
        other = await client.delete(f"{PASSKEYS}/{passkey_id}", headers=tenant.viewer)
        assert other.status_code == 404
        removed = await client.delete(f"{PASSKEYS}/{passkey_id}", headers=tenant.admin)
        assert removed.status_code == 204
        signed_in = await client.post(LOGIN, json={"email": email, "password": PASSWORD})
        assert signed_in.json()["user"]["must_enrol_two_factor"] is True
        removals = await _audit(client, tenant, "remove_passkey")
        assert [e["before"] for e in removals] == [{"passkey": "Laptop"}]


async def test_passkeys_need_a_host_name_in_the_public_url(
    client: httpx.AsyncClient, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    refused = await client.post(f"{PASSKEYS}/registration-options", headers=tenant.admin)
    assert refused.status_code == 409
    assert "not an IP address" in refused.json()["detail"]
    by_key = await client.get(PASSKEYS, headers=tenant.key)
    assert by_key.status_code == 403


async def test_an_admin_removes_a_users_lost_passkeys(
    passkey_app: Litestar, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    email = f"viewer@{tenant.name}.example"
    async with client_for(passkey_app) as client:
        first = await _register(client, tenant.viewer, SoftAuthenticator(origin=ORIGIN))
        second = await _register(client, tenant.viewer, SoftAuthenticator(origin=ORIGIN))
        assert (first.status_code, second.status_code) == (201, 201)
        # Codes come with the first second factor only.
        codes = first.json()["recovery_codes"]
        assert (len(codes), second.json()["recovery_codes"]) == (10, [])
        lost_key = await client.post(
            f"{LOGIN}/second-factor",
            json={
                "pending_token": (await _pending(client, email))["pending_token"],
                "code": codes[0],
            },
        )
        assert lost_key.status_code == 200, lost_key.text
        assert (await _pending(client, email))["methods"] == ["passkey", "recovery_code"]
        user_id = (await client.get("/api/v1/auth/me", headers=tenant.viewer)).json()["user_id"]
        listed = await client.get("/api/v1/users", headers=tenant.admin)
        flags = {u["email"]: u["two_factor_enabled"] for u in listed.json()["items"]}
        assert (flags[email], flags[tenant.owner_email]) == (True, False)
        removed = await client.delete(f"/api/v1/users/{user_id}/two-factor", headers=tenant.admin)
        assert removed.status_code == 204
        again = await client.delete(f"/api/v1/users/{user_id}/two-factor", headers=tenant.admin)
        assert again.status_code == 409
        plain = await client.post(LOGIN, json={"email": email, "password": PASSWORD})
        assert plain.status_code == 200
        user = await client.get(f"/api/v1/users/{user_id}", headers=tenant.admin)
        assert user.json()["two_factor_enabled"] is False
        audited = await _audit(client, tenant, "disable_two_factor")
        assert audited[0]["after"] == {"totp_removed": False, "passkeys_removed": 2}


async def _passwordless(
    client: httpx.AsyncClient, authenticator: SoftAuthenticator
) -> tuple[httpx.Response, dict[str, Any]]:
    started = await client.post(f"{PASSWORDLESS}/options")
    assert started.status_code == 200, started.text
    options = started.json()["options"]
    assert (options["userVerification"], options.get("allowCredentials", [])) == ("required", [])
    body = {"ceremony": started.json()["ceremony"], "credential": authenticator.get(options)}
    return await client.post(PASSWORDLESS, json=body), body


async def test_a_passkey_alone_signs_in_when_it_verified_the_user(
    passkey_app: Litestar, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    email = f"admin@{tenant.name}.example"
    key = SoftAuthenticator(origin=ORIGIN)
    async with client_for(passkey_app) as client:
        assert (await _register(client, tenant.admin, key)).status_code == 201
        signed_in, body = await _passwordless(client, key)
        assert signed_in.status_code == 200, signed_in.text
        me = await client.get("/api/v1/auth/me", headers=bearer(signed_in.json()["token"]))
        assert me.json()["actor"] == email
        replayed = await client.post(PASSWORDLESS, json=body)
        assert replayed.status_code == 422

        stranger, _ = await _passwordless(client, SoftAuthenticator(origin=ORIGIN))
        assert stranger.status_code == 401
        key.user_verified = False
        touched_only, _ = await _passwordless(client, key)
        assert touched_only.status_code == 422
        assert "verif" in touched_only.json()["detail"].lower()
        sign_ins = await _audit(client, tenant, "sign_in")
        assert sign_ins[0]["after"] == {"method": "passkey"}


async def test_a_passkey_alone_is_break_glass_in_a_tenant_that_requires_sso(
    passkey_app: Litestar, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    admin_key, owner_key = SoftAuthenticator(origin=ORIGIN), SoftAuthenticator(origin=ORIGIN)
    async with client_for(passkey_app) as client:
        assert (await _register(client, tenant.admin, admin_key)).status_code == 201
        assert (await _register(client, tenant.owner, owner_key)).status_code == 201
        provider = {"name": "Google", "preset": "google", "client_id": "c", "client_secret": "s"}
        created = await client.post("/api/v1/sso-providers", json=provider, headers=tenant.owner)
        assert created.status_code == 201
        on = await client.patch("/api/v1/tenant", json={"require_sso": True}, headers=tenant.owner)
        assert on.status_code == 200
        refused, _ = await _passwordless(client, admin_key)
        assert refused.status_code == 403
        assert "single sign-on" in refused.json()["detail"]
        owner, _ = await _passwordless(client, owner_key)
        assert owner.status_code == 200, owner.text
        sign_ins = await _audit(client, tenant, "sign_in")
        assert sign_ins[0]["after"] == {"method": "passkey", "break_glass": True}
        assert sign_ins[0]["actor"] == tenant.owner_email


async def test_adding_or_removing_a_passkey_needs_a_recent_sign_in(
    passkey_app: Litestar, api_context: ApiContext, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    async with client_for(passkey_app) as client:
        registered = await _register(client, tenant.admin, SoftAuthenticator(origin=ORIGIN))
        assert registered.status_code == 201
        me = (await client.get("/api/v1/auth/me", headers=tenant.admin)).json()
        user = await UserRepository(api_context.pool).get(tenant.id, uuid.UUID(me["user_id"]))
        assert user is not None
        an_hour_ago = Session(
            user_id=user.id,
            tenant_id=user.tenant_id,
            credential=credential_fingerprint(user.password_hash),
            opened_at=time.time() - 3600,
        )
        stale = bearer(await open_session(api_context, an_hour_ago))
        listed = await client.get(PASSKEYS, headers=stale)
        assert len(listed.json()["items"]) == 1
        adding = await client.post(f"{PASSKEYS}/registration-options", headers=stale)
        assert adding.status_code == 403
        assert "sign in again to add a passkey" in adding.json()["detail"]
        removing = await client.delete(f"{PASSKEYS}/{registered.json()['id']}", headers=stale)
        assert removing.status_code == 403
        assert len((await client.get(PASSKEYS, headers=stale)).json()["items"]) == 1
