"""TOTP two-factor sign-in through the API: enrolment confirmed by a first code, the second
step of sign-in, recovery codes spent once, per-tenant enforcement for owners and admins,
removal, and the audit trail of each."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pyotp

from api.app import create_app
from api.context import ApiContext
from tests.api.conftest import (
    PASSWORD,
    MakeTenant,
    bearer,
    client_for,
    with_settings,
)

LOGIN = "/api/v1/auth/login"
SECOND = "/api/v1/auth/login/second-factor"


def _code(secret: str, steps_ahead: int = 0) -> str:
    """The app's code `steps_ahead` 30-second steps from now (the server allows one)."""
    return pyotp.TOTP(secret).at(time.time() + 30 * steps_ahead)


async def _enrol(client: httpx.AsyncClient, headers: dict[str, str]) -> tuple[str, list[str]]:
    started = await client.post("/api/v1/auth/two-factor/totp", headers=headers)
    assert started.status_code == 201, started.text
    secret: str = started.json()["secret"]
    assert started.json()["otpauth_uri"].startswith("otpauth://totp/Vocals:")
    confirmed = await client.post(
        "/api/v1/auth/two-factor/totp/confirm", json={"code": _code(secret)}, headers=headers
    )
    assert confirmed.status_code == 200, confirmed.text
    codes: list[str] = confirmed.json()["codes"]
    return secret, codes


async def _password_step(client: httpx.AsyncClient, email: str) -> str:
    response = await client.post(LOGIN, json={"email": email, "password": PASSWORD})
    assert response.status_code == 202, response.text
    assert "token" not in response.json()
    token: str = response.json()["pending_token"]
    return token


async def _audit(client: httpx.AsyncClient, headers: dict[str, str], action: str) -> list[Any]:
    response = await client.get("/api/v1/audit-logs", params={"action": action}, headers=headers)
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


async def test_enrolment_needs_a_right_first_code_then_sign_in_needs_a_fresh_code(
    client: httpx.AsyncClient, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    started = await client.post("/api/v1/auth/two-factor/totp", headers=tenant.admin)
    secret = started.json()["secret"]
    wrong = await client.post(
        "/api/v1/auth/two-factor/totp/confirm", json={"code": "000000"}, headers=tenant.admin
    )
    assert wrong.status_code == 422
    status = await client.get("/api/v1/auth/two-factor", headers=tenant.admin)
    assert status.json()["enabled"] is False
    confirmed = await client.post(
        "/api/v1/auth/two-factor/totp/confirm", json={"code": _code(secret)}, headers=tenant.admin
    )
    assert confirmed.status_code == 200
    assert len(set(confirmed.json()["codes"])) == 10
    again = await client.post("/api/v1/auth/two-factor/totp", headers=tenant.admin)
    assert again.status_code == 409

    email = f"admin@{tenant.name}.example"
    pending = await _password_step(client, email)
    expired = await client.post(SECOND, json={"pending_token": "made-up", "code": _code(secret)})
    assert expired.status_code == 401
    wrong_code = await client.post(SECOND, json={"pending_token": pending, "code": "123456"})
    assert wrong_code.status_code == 401
    fresh = _code(secret, steps_ahead=1)
    signed_in = await client.post(SECOND, json={"pending_token": pending, "code": fresh})
    assert signed_in.status_code == 200, signed_in.text
    me = await client.get("/api/v1/auth/me", headers=bearer(signed_in.json()["token"]))
    assert me.json()["actor"] == email
    reused_token = await client.post(SECOND, json={"pending_token": pending, "code": fresh})
    assert reused_token.status_code == 401
    # The same code, seen over a shoulder, does not open a second session.
    replayed = await client.post(
        SECOND, json={"pending_token": await _password_step(client, email), "code": fresh}
    )
    assert replayed.status_code == 401

    enabled = await _audit(client, tenant.owner, "enable_two_factor")
    assert [e["actor"] for e in enabled] == [email]
    methods = [e["after"]["method"] for e in await _audit(client, tenant.owner, "sign_in")]
    assert "password+totp" in methods


async def test_a_recovery_code_signs_in_once(
    client: httpx.AsyncClient, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    _, codes = await _enrol(client, tenant.viewer)
    email = f"viewer@{tenant.name}.example"
    typed = codes[0].upper().replace("-", " ")
    first = await client.post(
        SECOND, json={"pending_token": await _password_step(client, email), "code": typed}
    )
    assert first.status_code == 200, first.text
    second = await client.post(
        SECOND, json={"pending_token": await _password_step(client, email), "code": codes[0]}
    )
    assert second.status_code == 401
    status = await client.get("/api/v1/auth/two-factor", headers=tenant.viewer)
    assert status.json()["recovery_codes_left"] == 9
    methods = [e["after"]["method"] for e in await _audit(client, tenant.owner, "sign_in")]
    assert "password+recovery_code" in methods


async def test_second_factor_guesses_count_with_password_attempts(
    api_context: ApiContext, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    async with client_for(create_app(api_context)) as client:
        secret, _ = await _enrol(client, tenant.owner)
    limited = create_app(with_settings(api_context, login_attempts_per_email=3))
    async with client_for(limited) as client:
        pending = await _password_step(client, tenant.owner_email)
        statuses = []
        for _ in range(3):
            guess = await client.post(SECOND, json={"pending_token": pending, "code": "111111"})
            statuses.append(guess.status_code)
        right = await client.post(
            SECOND, json={"pending_token": pending, "code": _code(secret, steps_ahead=1)}
        )
    assert statuses == [401, 401, 429]
    assert right.status_code == 429
    assert int(right.headers["Retry-After"]) > 0


async def test_a_tenant_can_require_two_factor_of_owners_and_admins(
    client: httpx.AsyncClient, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    by_admin = await client.patch(
        "/api/v1/tenant", json={"require_two_factor": True}, headers=tenant.admin
    )
    assert by_admin.status_code == 403
    required = await client.patch(
        "/api/v1/tenant", json={"require_two_factor": True}, headers=tenant.owner
    )
    assert required.status_code == 200
    assert required.json()["require_two_factor"] is True

    blocked = await client.get("/api/v1/agents", headers=tenant.admin)
    assert blocked.status_code == 403
    assert "two-factor" in blocked.json()["detail"]
    me = await client.get("/api/v1/auth/me", headers=tenant.admin)
    assert me.json()["must_enrol_two_factor"] is True
    admin_email = f"admin@{tenant.name}.example"
    signing_in = await client.post(LOGIN, json={"email": admin_email, "password": PASSWORD})
    assert signing_in.json()["user"]["must_enrol_two_factor"] is True
    viewer = await client.get("/api/v1/agents", headers=tenant.viewer)
    assert viewer.status_code == 200
    status = await client.get("/api/v1/auth/two-factor", headers=tenant.admin)
    assert status.json()["required"] is True

    await _enrol(client, tenant.admin)
    allowed = await client.get("/api/v1/agents", headers=tenant.admin)
    assert allowed.status_code == 200
    changes = await _audit(client, tenant.viewer, "update")
    assert any(e["after"]["require_two_factor"] is True for e in changes)


async def test_two_factor_removed_by_its_user_with_a_code_or_by_an_admin(
    client: httpx.AsyncClient, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    secret, _ = await _enrol(client, tenant.owner)
    wrong = await client.post(
        "/api/v1/auth/two-factor/disable", json={"code": "999999"}, headers=tenant.owner
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "code"
    removed = await client.post(
        "/api/v1/auth/two-factor/disable",
        json={"code": _code(secret, steps_ahead=1)},
        headers=tenant.owner,
    )
    assert removed.status_code == 204
    plain = await client.post(LOGIN, json={"email": tenant.owner_email, "password": PASSWORD})
    assert plain.status_code == 200

    await _enrol(client, tenant.viewer)
    me = await client.get("/api/v1/auth/me", headers=tenant.viewer)
    user_id = me.json()["user_id"]
    by_admin = await client.delete(f"/api/v1/users/{user_id}/two-factor", headers=tenant.admin)
    assert by_admin.status_code == 204
    listed = await client.get(f"/api/v1/users/{user_id}", headers=tenant.admin)
    assert listed.json()["two_factor_enabled"] is False
    again = await client.delete(f"/api/v1/users/{user_id}/two-factor", headers=tenant.admin)
    assert again.status_code == 409
    assert len(await _audit(client, tenant.owner, "disable_two_factor")) == 2

    by_key = await client.get("/api/v1/auth/two-factor", headers=tenant.key)
    assert by_key.status_code == 403


async def test_new_recovery_codes_need_a_code_and_void_the_old_ones(
    client: httpx.AsyncClient, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    url = "/api/v1/auth/two-factor/recovery-codes"
    before = await client.post(url, json={"code": "123456"}, headers=tenant.admin)
    assert before.status_code == 409
    secret, old = await _enrol(client, tenant.admin)
    guessed = await client.post(url, json={"code": "000000"}, headers=tenant.admin)
    assert guessed.status_code == 422
    assert guessed.json()["errors"][0]["field"] == "code"
    still = await client.get("/api/v1/auth/two-factor", headers=tenant.admin)
    assert still.json()["recovery_codes_left"] == 10

    renewed = await client.post(
        url, json={"code": _code(secret, steps_ahead=1)}, headers=tenant.admin
    )
    assert renewed.status_code == 200, renewed.text
    new = renewed.json()["codes"]
    assert len(set(new)) == 10
    assert not set(new) & set(old)

    email = f"admin@{tenant.name}.example"
    voided = await client.post(
        SECOND, json={"pending_token": await _password_step(client, email), "code": old[1]}
    )
    assert voided.status_code == 401
    fresh = await client.post(
        SECOND, json={"pending_token": await _password_step(client, email), "code": new[0]}
    )
    assert fresh.status_code == 200, fresh.text

    # A recovery code proves the user too; it is voided with the rest.
    again = await client.post(url, json={"code": new[1]}, headers=tenant.admin)
    assert again.status_code == 200, again.text
    status = await client.get("/api/v1/auth/two-factor", headers=tenant.admin)
    assert status.json()["recovery_codes_left"] == 10
    audited = await _audit(client, tenant.owner, "regenerate_recovery_codes")
    assert [e["after"]["proved_by"] for e in audited] == ["recovery_code", "totp"]
    assert all(e["actor"] == email for e in audited)
