"""Which SSO buttons the sign-in page offers: found by tenant name or by an e-mail's domain,
with the same empty answer for what does not exist as for what has no provider."""

from __future__ import annotations

import httpx
from litestar import Litestar

from api.app import create_app
from api.context import ApiContext
from tests.api.conftest import MakeTenant, client_for, with_settings
from tests.fakes.oidc_provider import CLIENT_ID, CLIENT_SECRET, FakeOidcProvider

FIND = "/api/v1/auth/sso/providers"


async def _provider(
    client: httpx.AsyncClient, headers: dict[str, str], idp: FakeOidcProvider, **body: object
) -> str:
    created = await client.post(
        "/api/v1/sso-providers",
        json={"issuer": idp.issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET} | body,
        headers=headers,
    )
    assert created.status_code == 201, created.text
    path: str = created.json()["sign_in_path"]
    return path


async def _found(client: httpx.AsyncClient, **query: str) -> list[dict[str, str]]:
    response = await client.get(FIND, params=query)
    assert response.status_code == 200, response.text
    items: list[dict[str, str]] = response.json()["items"]
    return items


async def test_providers_are_found_by_tenant_name_or_by_a_domain_allowed_to_sign_up(
    sso_app: Litestar, make_tenant: MakeTenant, idp: FakeOidcProvider
) -> None:
    with_domain, without = await make_tenant(), await make_tenant()
    domain = f"{with_domain.name}.example"
    async with client_for(sso_app) as client:
        path = await _provider(
            client, with_domain.owner, idp, name="Acme Okta", allowed_domains=[domain]
        )
        other = await _provider(client, without.owner, idp, name="Beta Entra")

        by_email = await _found(client, email=f"Someone@{domain.upper()}")
        assert by_email == [{"name": "Acme Okta", "sign_in_path": path}]
        assert await _found(client, tenant=without.name) == [
            {"name": "Beta Entra", "sign_in_path": other}
        ]
        # An existing account of a tenant whose provider allows no domain, an unknown domain,
        # an unknown tenant and a tenant with no provider all get the same answer.
        assert await _found(client, email=without.owner_email) == []
        assert await _found(client, email="nobody@nowhere.example") == []
        assert await _found(client, tenant="no-such-tenant") == []
        assert await _found(client, tenant=(await make_tenant()).name) == []

        started = await client.get(by_email[0]["sign_in_path"])
        assert started.status_code == 302
        assert started.headers["location"].startswith(f"{idp.issuer}/authorize?")


async def test_a_lookup_needs_one_clear_question_and_is_rate_limited(
    api_context: ApiContext,
) -> None:
    limited = create_app(with_settings(api_context, login_attempts_per_ip=3))
    # An address of its own: other tests' look-ups come from the default one.
    async with client_for(limited, address=("127.0.0.77", 50000)) as c:
        neither = await c.get(FIND)
        both = await c.get(FIND, params={"tenant": "a", "email": "a@b.example"})
        not_an_email = await c.get(FIND, params={"email": "nobody"})
        statuses = [(await c.get(FIND, params={"tenant": "a"})).status_code for _ in range(3)]
    assert neither.status_code == both.status_code == 422
    assert "either a tenant or an e-mail" in neither.json()["detail"]
    assert not_an_email.status_code == 422
    # The malformed e-mail counted too: 3 per window.
    assert statuses == [200, 200, 429]
