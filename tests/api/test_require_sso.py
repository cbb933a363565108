"""A tenant that requires SSO: password sign-in refused for its users (after the password, so
strangers learn nothing), the break-glass path for owners with a second factor (audited as
such), and the policy never leaving the tenant without a provider."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import httpx
import pyotp
from litestar import Litestar

from api.app import create_app
from api.context import ApiContext
from api.mail import Mailer
from tests.api.conftest import PASSWORD, MakeTenant, bearer, client_for, with_settings
from tests.api.test_invitations_and_reset import (
    ACCEPT,
    INVITATIONS,
    NEW_PASSWORD,
    _mail,
    _token,
    smtp,
)
from tests.api.test_sso import SUCCESS_PREFIX, browser_round_trip, configure_provider
from tests.fakes.oidc_provider import FakeOidcProvider, OidcUser
from tests.fakes.smtp import FakeSmtp

LOGIN = "/api/v1/auth/login"
SSO_ONLY = "signs in with single sign-on"
__all__ = ["smtp"]  # the SMTP server fixture, shared with the invitation tests


async def _audit(client: httpx.AsyncClient, headers: dict[str, str], action: str) -> list[Any]:
    response = await client.get("/api/v1/audit-logs", params={"action": action}, headers=headers)
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


async def test_password_sign_in_is_refused_except_for_owners_with_a_second_factor(
    sso_app: Litestar, make_tenant: MakeTenant, idp: FakeOidcProvider
) -> None:
    tenant = await make_tenant()
    viewer = f"viewer@{tenant.name}.example"
    async with client_for(sso_app) as client:
        too_early = await client.patch(
            "/api/v1/tenant", json={"require_sso": True}, headers=tenant.owner
        )
        assert too_early.status_code == 422
        assert too_early.json()["errors"][0]["field"] == "require_sso"
        assert (await client.get("/api/v1/tenant", headers=tenant.owner)).json()[
            "require_sso"
        ] is False
        provider = await configure_provider(client, tenant, idp)
        by_admin = await client.patch(
            "/api/v1/tenant", json={"require_sso": True}, headers=tenant.admin
        )
        assert by_admin.status_code == 403
        required = await client.patch(
            "/api/v1/tenant", json={"require_sso": True}, headers=tenant.owner
        )
        assert required.status_code == 200, required.text
        assert required.json()["require_sso"] is True

        refused = await client.post(LOGIN, json={"email": viewer, "password": PASSWORD})
        assert refused.status_code == 403
        assert SSO_ONLY in refused.json()["detail"]
        # A wrong password says only that: the policy is no oracle for who has an account.
        guessed = await client.post(LOGIN, json={"email": viewer, "password": "not it"})
        assert guessed.status_code == 401
        owner_alone = await client.post(
            LOGIN, json={"email": tenant.owner_email, "password": PASSWORD}
        )
        assert owner_alone.status_code == 403

        idp.user = OidcUser(email=viewer)
        through_sso = await client.get(await browser_round_trip(client, provider))
        assert through_sso.headers["location"].startswith(SUCCESS_PREFIX)

        started = await client.post("/api/v1/auth/two-factor/totp", headers=tenant.owner)
        secret = started.json()["secret"]
        confirmed = await client.post(
            "/api/v1/auth/two-factor/totp/confirm",
            json={"code": pyotp.TOTP(secret).now()},
            headers=tenant.owner,
        )
        assert confirmed.status_code == 200
        pending = await client.post(LOGIN, json={"email": tenant.owner_email, "password": PASSWORD})
        assert pending.status_code == 202, pending.text
        broke_glass = await client.post(
            "/api/v1/auth/login/second-factor",
            json={
                "pending_token": pending.json()["pending_token"],
                "code": pyotp.TOTP(secret).at(time.time() + 30),
            },
        )
        assert broke_glass.status_code == 200, broke_glass.text
        headers = bearer(broke_glass.json()["token"])

        sign_ins = await _audit(client, headers, "sign_in")
        assert sign_ins[0]["actor"] == tenant.owner_email
        assert sign_ins[0]["after"] == {"method": "password+totp", "break_glass": True}
        assert "break_glass" not in sign_ins[1]["after"]
        changes = await _audit(client, headers, "update")
        assert changes[0]["before"]["require_sso"] is False
        assert changes[0]["after"]["require_sso"] is True


async def test_the_last_provider_stays_while_sso_is_required(
    sso_app: Litestar, make_tenant: MakeTenant, idp: FakeOidcProvider
) -> None:
    tenant = await make_tenant()
    async with client_for(sso_app) as client:
        provider = await configure_provider(client, tenant, idp)
        on = await client.patch("/api/v1/tenant", json={"require_sso": True}, headers=tenant.owner)
        assert on.status_code == 200
        url = f"/api/v1/sso-providers/{provider['id']}"
        kept = await client.delete(url, headers=tenant.owner)
        assert kept.status_code == 409
        assert "last provider" in kept.json()["detail"]
        listed = await client.get("/api/v1/sso-providers", headers=tenant.owner)
        assert [p["id"] for p in listed.json()["items"]] == [provider["id"]]
        off = await client.patch(
            "/api/v1/tenant", json={"require_sso": False}, headers=tenant.owner
        )
        assert off.status_code == 200
        assert (await client.delete(url, headers=tenant.owner)).status_code == 204
        gone = await client.delete(url, headers=tenant.owner)
        assert gone.status_code == 404
        plain = await client.post(LOGIN, json={"email": tenant.owner_email, "password": PASSWORD})
        assert plain.status_code == 200


async def test_invitations_do_not_open_a_password_way_in(
    api_context: ApiContext,
    make_tenant: MakeTenant,
    idp: FakeOidcProvider,
    smtp: FakeSmtp,
) -> None:
    tenant = await make_tenant()
    email = f"colleague@{tenant.name}.example"
    mailing = replace(
        with_settings(api_context, allow_private_urls=True),
        mailer=Mailer(smtp.url, "Vocals <v@x.test>"),
    )
    async with client_for(create_app(mailing)) as client:
        await configure_provider(client, tenant, idp)
        invited = await client.post(
            INVITATIONS, json={"email": email, "role": "viewer"}, headers=tenant.admin
        )
        assert invited.status_code == 201
        token = _token(await _mail(smtp), "accept-invitation")
        on = await client.patch("/api/v1/tenant", json={"require_sso": True}, headers=tenant.owner)
        assert on.status_code == 200

        accepting = await client.post(ACCEPT, json={"token": token, "password": NEW_PASSWORD})
        assert accepting.status_code == 403
        assert "single sign-on" in accepting.json()["detail"]
        still_pending = await client.get(INVITATIONS, headers=tenant.viewer)
        assert [i["email"] for i in still_pending.json()["items"]] == [email]
        refused = await client.post(
            INVITATIONS, json={"email": f"other@{tenant.name}.example"}, headers=tenant.admin
        )
        assert refused.status_code == 409
        assert "single sign-on" in refused.json()["detail"]

        off = await client.patch(
            "/api/v1/tenant", json={"require_sso": False}, headers=tenant.owner
        )
        assert off.status_code == 200
        accepted = await client.post(ACCEPT, json={"token": token, "password": NEW_PASSWORD})
        assert accepted.status_code == 200, accepted.text
