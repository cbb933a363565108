"""Presets for Google, Microsoft Entra ID and GitHub: the issuer filled in from what the admin
knows; GitHub signed in through its OAuth 2 flow (a GitHub Enterprise Server-shaped fake on
127.0.0.1); an Entra-shaped ID token (verified by `xms_edov`) through the OIDC fake."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar import Litestar

from tests.api.conftest import MakeTenant, bearer, client_for
from tests.api.test_sso import SUCCESS_PREFIX, browser_round_trip
from tests.fakes import github_oauth
from tests.fakes.github_oauth import FakeGithub, GithubEmail
from tests.fakes.oidc_provider import CLIENT_ID, CLIENT_SECRET, FakeOidcProvider, OidcUser

PROVIDERS = "/api/v1/sso-providers"
DIRECTORY = "72F988BF-86F1-41AF-91AB-2D7CD011DB47"


@pytest.fixture
async def github() -> AsyncIterator[FakeGithub]:
    fake = FakeGithub()
    await fake.start()
    yield fake
    await fake.stop()


def _body(**fields: object) -> dict[str, object]:
    return {"name": "IdP", "client_id": "id", "client_secret": "secret"} | fields


async def test_presets_fill_in_the_issuer_and_refuse_what_does_not_fit(
    client: httpx.AsyncClient, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()

    async def create(**fields: object) -> httpx.Response:
        return await client.post(PROVIDERS, json=_body(**fields), headers=tenant.owner)

    made = {
        preset: (await create(name=preset, preset=preset, **extra)).json()
        for preset, extra in (
            ("google", {}),
            ("microsoft", {"directory": DIRECTORY}),
            ("github", {}),
        )
    }
    assert (made["google"]["protocol"], made["google"]["issuer"]) == (
        "oidc",
        "https://accounts.google.com",
    )
    assert made["microsoft"]["issuer"] == (
        f"https://login.microsoftonline.com/{DIRECTORY.lower()}/v2.0"
    )
    assert (made["github"]["protocol"], made["github"]["issuer"]) == (
        "github",
        "https://github.com",
    )
    enterprise = await create(name="GHES", preset="github", issuer="https://git.example.com")
    assert enterprise.json()["issuer"] == "https://git.example.com"

    refused = {
        "microsoft without a directory": await create(preset="microsoft"),
        "google with an issuer": await create(preset="google", issuer="https://evil.example"),
        "a directory elsewhere": await create(preset="google", directory=DIRECTORY),
        "nothing at all": await create(),
    }
    fields = {case: r.json()["errors"][0]["field"] for case, r in refused.items()}
    assert {r.status_code for r in refused.values()} == {422}
    assert fields == {
        "microsoft without a directory": "directory",
        "google with an issuer": "issuer",
        "a directory elsewhere": "directory",
        "nothing at all": "issuer",
    }
    assert "needs the Entra directory" in refused["microsoft without a directory"].text
    not_a_guid = await create(preset="microsoft", directory="common")
    assert not_a_guid.status_code == 400
    listed = await client.get(PROVIDERS, headers=tenant.owner)
    assert len(listed.json()["items"]) == 4


async def _github_provider(
    client: httpx.AsyncClient, headers: dict[str, str], github: FakeGithub, **fields: object
) -> dict[str, Any]:
    body = {
        "name": "GitHub",
        "preset": "github",
        "issuer": github.url,
        "client_id": github_oauth.CLIENT_ID,
        "client_secret": github_oauth.CLIENT_SECRET,
    } | fields
    created = await client.post(PROVIDERS, json=body, headers=headers)
    assert created.status_code == 201, created.text
    provider: dict[str, Any] = created.json()
    return provider


async def test_github_signs_in_its_verified_primary_email(
    sso_app: Litestar, make_tenant: MakeTenant, github: FakeGithub
) -> None:
    tenant = await make_tenant()
    domain = f"{tenant.name}.example"
    async with client_for(sso_app) as client:
        provider = await _github_provider(
            client, tenant.owner, github, allowed_domains=[domain], default_role="admin"
        )
        github.emails = [GithubEmail(f"dev@{domain}"), GithubEmail("dev@personal.example")]
        signed_in = await client.get(await browser_round_trip(client, provider))
        assert signed_in.status_code == 302, signed_in.text
        token = signed_in.headers["location"].removeprefix(SUCCESS_PREFIX).partition("&")[0]
        me = await client.get("/api/v1/auth/me", headers=bearer(token))
        assert (me.json()["actor"], me.json()["role"]) == (f"dev@{domain}", "admin")
        audit = await client.get(
            "/api/v1/audit-logs", params={"action": "sign_in"}, headers=tenant.owner
        )
        assert audit.json()["items"][0]["after"] == {"method": "sso:GitHub"}

        github.emails = [GithubEmail(f"new@{domain}", verified=False)]
        unverified = await client.get(await browser_round_trip(client, provider))
        assert unverified.status_code == 403
        assert "has not verified this e-mail" in unverified.json()["detail"]

        wrong_secret = await _github_provider(
            client, tenant.owner, github, name="Wrong", client_secret="not the secret"
        )
        refused = await client.get(await browser_round_trip(client, wrong_secret))
        assert refused.status_code == 401
        assert "GitHub refused the sign-in code" in refused.json()["detail"]


async def test_an_entra_shaped_token_is_verified_by_xms_edov(
    sso_app: Litestar, make_tenant: MakeTenant, idp: FakeOidcProvider
) -> None:
    tenant = await make_tenant()
    async with client_for(sso_app) as client:
        created = await client.post(
            PROVIDERS,
            json={
                "name": "Entra",
                "issuer": idp.issuer,
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
            },
            headers=tenant.owner,
        )
        provider = created.json()
        idp.user = OidcUser(email=tenant.owner_email, verified_claim="xms_edov")
        signed_in = await client.get(await browser_round_trip(client, provider))
        assert signed_in.status_code == 302, signed_in.text
        idp.user = OidcUser(email=tenant.owner_email, verified_claim="xms_other")
        refused = await client.get(await browser_round_trip(client, provider))
    assert refused.status_code == 403
    assert "has not verified this e-mail" in refused.json()["detail"]
