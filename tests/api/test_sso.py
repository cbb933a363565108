"""Signing in with OpenID Connect through a provider started on 127.0.0.1: the browser's
round trip (our start → the provider → our callback) done with real HTTP, and each way the
provider's answer can be unacceptable refused with its reason."""

from __future__ import annotations

import statistics
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from litestar import Litestar

from tests.api.conftest import MakeTenant, TenantHandle, bearer, client_for
from tests.fakes.oidc_provider import CLIENT_ID, CLIENT_SECRET, FakeOidcProvider, OidcUser

ALLOWED = "allowed.example"
SUCCESS_PREFIX = "http://127.0.0.1:8000/sso#token="


async def configure_provider(
    client: httpx.AsyncClient, tenant: TenantHandle, idp: FakeOidcProvider
) -> dict[str, Any]:
    created = await client.post(
        "/api/v1/sso-providers",
        json={
            "name": "Company IdP",
            "issuer": idp.issuer,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "allowed_domains": [ALLOWED],
            "default_role": "admin",
        },
        headers=tenant.owner,
    )
    assert created.status_code == 201, created.text
    assert "client_secret" not in created.json()
    provider: dict[str, Any] = created.json()
    return provider


async def browser_round_trip(client: httpx.AsyncClient, provider: dict[str, Any]) -> str:
    """The browser: start, follow the redirect to the provider; the callback path it is sent
    back to."""
    started = await client.get(provider["sign_in_path"])
    assert started.status_code == 302, started.text
    async with httpx.AsyncClient(timeout=10) as browser:
        at_provider = await browser.get(started.headers["location"])
    assert at_provider.status_code == 302, at_provider.text
    back = urlsplit(at_provider.headers["location"])
    assert back.path == "/api/v1/auth/sso/callback"
    return f"{back.path}?{back.query}"


async def test_a_verified_email_signs_in_its_user_or_a_new_one_of_an_allowed_domain(
    sso_app: Litestar, make_tenant: MakeTenant, idp: FakeOidcProvider
) -> None:
    tenant = await make_tenant()
    async with client_for(sso_app) as client:
        provider = await configure_provider(client, tenant, idp)
        idp.user = OidcUser(email=f"viewer@{tenant.name}.example")
        existing = await client.get(await browser_round_trip(client, provider))
        assert existing.status_code == 302, existing.text
        location = existing.headers["location"]
        assert location.startswith(SUCCESS_PREFIX)
        token = location.removeprefix(SUCCESS_PREFIX).partition("&")[0]
        me = await client.get("/api/v1/auth/me", headers=bearer(token))
        assert (me.json()["actor"], me.json()["role"]) == (idp.user.email, "viewer")

        idp.user = OidcUser(email=f"new.colleague@{ALLOWED}")
        created = await client.get(await browser_round_trip(client, provider))
        assert created.status_code == 302, created.text
        token = created.headers["location"].removeprefix(SUCCESS_PREFIX).partition("&")[0]
        me = await client.get("/api/v1/auth/me", headers=bearer(token))
        assert (me.json()["actor"], me.json()["role"]) == (idp.user.email, "admin")
        assert me.json()["tenant_id"] == str(tenant.id)

        audit = await client.get(
            "/api/v1/audit-logs", params={"action": "sign_in"}, headers=tenant.owner
        )
        methods = [e["after"]["method"] for e in audit.json()["items"]]
        assert methods.count("sso:Company IdP") == 2


async def test_a_replayed_state_is_refused_and_so_is_another_browser(
    sso_app: Litestar, make_tenant: MakeTenant, idp: FakeOidcProvider
) -> None:
    tenant = await make_tenant()
    async with client_for(sso_app) as client:
        provider = await configure_provider(client, tenant, idp)
        idp.user = OidcUser(email=f"viewer@{tenant.name}.example")
        callback = await browser_round_trip(client, provider)
        first = await client.get(callback)
        assert first.status_code == 302
        replayed = await client.get(callback)
        # A callback link sent to a victim would sign them in as the sender.
        lured = await browser_round_trip(client, provider)
    async with client_for(sso_app) as victim:
        elsewhere = await victim.get(lured)
    assert replayed.status_code == 401
    assert "state unknown, expired or already used" in replayed.json()["detail"]
    assert elsewhere.status_code == 401
    assert "started in another browser" in elsewhere.json()["detail"]


@pytest.mark.parametrize(
    ("case", "status", "reason"),
    [
        ("wrong audience", 401, "'aud'"),
        ("expired token", 401, "the ID token has expired"),
        ("unverified e-mail", 403, "has not verified this e-mail"),
        ("domain not allowed", 403, "elsewhere.example may not sign up with this provider"),
    ],
)
async def test_an_unacceptable_answer_is_refused_with_its_reason(
    sso_app: Litestar,
    make_tenant: MakeTenant,
    idp: FakeOidcProvider,
    case: str,
    status: int,
    reason: str,
) -> None:
    tenant = await make_tenant()
    idp.user = OidcUser(email=f"owner@{tenant.name}.example")
    if case == "wrong audience":
        idp.spoil.audience = "someone-elses-client"
    elif case == "expired token":
        idp.spoil.expired = True
    elif case == "unverified e-mail":
        idp.user.email_verified = False
    else:
        idp.user = OidcUser(email="stranger@elsewhere.example")
    async with client_for(sso_app) as client:
        provider = await configure_provider(client, tenant, idp)
        refused = await client.get(await browser_round_trip(client, provider))
    assert refused.status_code == status, refused.text
    assert reason in refused.json()["detail"]
    assert "location" not in refused.headers


async def test_an_account_made_by_sso_has_no_password_and_timing_does_not_say_so(
    sso_app: Litestar, make_tenant: MakeTenant, idp: FakeOidcProvider
) -> None:
    tenant = await make_tenant()
    idp.user = OidcUser(email=f"sso.only@{ALLOWED}")
    async with client_for(sso_app) as client:
        provider = await configure_provider(client, tenant, idp)
        assert (await client.get(await browser_round_trip(client, provider))).status_code == 302
        timings: dict[str, list[float]] = {idp.user.email: [], tenant.owner_email: []}
        for _ in range(3):
            for email in timings:
                started = time.perf_counter()
                refused = await client.post(
                    "/api/v1/auth/login", json={"email": email, "password": "sso-only"}
                )
                timings[email].append(time.perf_counter() - started)
                assert refused.status_code == 401
    sso_only = statistics.median(timings[idp.user.email])
    with_password = statistics.median(timings[tenant.owner_email])
    # Both pay one scrypt (tens of milliseconds); without the decoy the first pays none.
    assert sso_only > with_password / 2, (sso_only, with_password)
