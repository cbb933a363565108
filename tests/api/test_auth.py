"""Sign-in, sessions, roles, API keys (shown once, revocable, rate limited)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from api.app import create_app
from api.context import ApiContext
from tests.api.conftest import (
    PASSWORD,
    MakeTenant,
    TenantHandle,
    bearer,
    client_for,
    login,
    with_settings,
)


async def test_login_me_logout(client: httpx.AsyncClient, tenant: TenantHandle) -> None:
    token = await login(client, tenant.owner_email)
    me = await client.get("/api/v1/auth/me", headers=bearer(token))
    assert me.status_code == 200
    assert me.json()["role"] == "owner"
    assert me.json()["actor"] == tenant.owner_email
    assert me.json()["tenant_id"] == str(tenant.id)
    out = await client.post("/api/v1/auth/logout", headers=bearer(token))
    assert out.status_code == 204
    again = await client.get("/api/v1/auth/me", headers=bearer(token))
    assert again.status_code == 401
    assert again.headers["content-type"].startswith("application/problem+json")


async def test_login_refuses_a_wrong_password_and_names_missing_fields(
    client: httpx.AsyncClient, tenant: TenantHandle
) -> None:
    wrong = await client.post(
        "/api/v1/auth/login", json={"email": tenant.owner_email, "password": "nope"}
    )
    assert wrong.status_code == 401
    missing = await client.post("/api/v1/auth/login", json={"email": tenant.owner_email})
    assert missing.status_code == 400
    assert missing.json()["errors"][0]["field"] == "password"
    garbage = await client.post(
        "/api/v1/auth/login", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert garbage.status_code == 400


@pytest.mark.parametrize("header", [None, "Bearer ", "Basic abc", "Bearer not-a-session"])
async def test_requests_without_a_valid_token_are_401(
    client: httpx.AsyncClient, header: str | None
) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = await client.get("/api/v1/agents", headers=headers)
    assert response.status_code == 401


async def test_login_attempts_are_limited_per_email(
    client: httpx.AsyncClient, make_tenant: MakeTenant, api_context: ApiContext
) -> None:
    victim = await make_tenant()
    limit = api_context.settings.login_attempts_per_email
    # Successful sign-ins do not count: make_tenant's own did not use up an attempt.
    for _ in range(limit):
        response = await client.post(
            "/api/v1/auth/login", json={"email": victim.owner_email, "password": "guess"}
        )
        assert response.status_code == 401
    blocked = await client.post(
        "/api/v1/auth/login", json={"email": victim.owner_email, "password": PASSWORD}
    )
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0


async def test_login_attempts_are_limited_per_client_address(
    api_context: ApiContext, tenant: TenantHandle
) -> None:
    app = create_app(with_settings(api_context, login_attempts_per_ip=3))
    # A client address of its own, so other tests' sign-ins do not count against it.
    async with client_for(app, ("198.51.100.7", 40000)) as client:
        statuses: list[int] = []
        for _ in range(4):
            response = await client.post(
                "/api/v1/auth/login",
                json={"email": f"nobody-{len(statuses)}@x.example", "password": "guess"},
            )
            statuses.append(response.status_code)
    assert statuses[:3] == [401, 401, 401]
    assert statuses[3] == 429


async def test_api_key_shown_once_listed_by_prefix_and_revocable(
    client: httpx.AsyncClient, tenant: TenantHandle
) -> None:
    created = await client.post(
        "/api/v1/api-keys", json={"name": "crm", "rpm": 5, "rpd": 100}, headers=tenant.owner
    )
    assert created.status_code == 201, created.text
    body = created.json()
    key = body["key"]
    assert key.startswith("vk_") and key.startswith(body["prefix"])
    listed = await client.get("/api/v1/api-keys", headers=tenant.owner)
    entry = next(k for k in listed.json()["items"] if k["id"] == body["id"])
    assert "key" not in entry
    assert entry["prefix"] == body["prefix"]
    me = await client.get("/api/v1/auth/me", headers=bearer(key))
    assert me.status_code == 200
    assert me.json()["actor"] == f"api-key:{body['prefix']}"
    revoked = await client.delete(f"/api/v1/api-keys/{body['id']}", headers=tenant.owner)
    assert revoked.status_code == 204
    after = await client.get("/api/v1/auth/me", headers=bearer(key))
    assert after.status_code == 401
    tampered = await client.get("/api/v1/auth/me", headers=bearer(key[:-2] + "xx"))
    assert tampered.status_code == 401


async def test_api_key_rpm_limit_answers_429_with_retry_after(
    client: httpx.AsyncClient, make_tenant: MakeTenant
) -> None:
    limited = await make_tenant(rpm=3)
    statuses = [
        (await client.get("/api/v1/agents", headers=limited.key)).status_code for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    response = await client.get("/api/v1/agents", headers=limited.key)
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert "rate limit" in response.json()["detail"]


async def test_api_key_rpd_limit(client: httpx.AsyncClient, make_tenant: MakeTenant) -> None:
    limited = await make_tenant(rpd=2)
    statuses = [
        (await client.get("/api/v1/agents", headers=limited.key)).status_code for _ in range(3)
    ]
    assert statuses == [200, 200, 429]


async def test_api_key_validation_and_roles(
    client: httpx.AsyncClient, tenant: TenantHandle
) -> None:
    bad = await client.post("/api/v1/api-keys", json={"name": "x", "rpm": 0}, headers=tenant.owner)
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "rpm"
    viewer = await client.post("/api/v1/api-keys", json={"name": "x"}, headers=tenant.viewer)
    assert viewer.status_code == 403
    admin_owner_key = await client.post(
        "/api/v1/api-keys", json={"name": "x", "role": "owner"}, headers=tenant.admin
    )
    assert admin_owner_key.status_code == 403


async def test_api_keys_of_another_tenant_are_404(
    client: httpx.AsyncClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    response = await client.get(f"/api/v1/api-keys/{other_tenant.key_id}", headers=tenant.owner)
    assert response.status_code == 404
    revoke = await client.delete(f"/api/v1/api-keys/{other_tenant.key_id}", headers=tenant.owner)
    assert revoke.status_code == 404


async def test_users_crud_and_roles(
    client: httpx.AsyncClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    email = f"new-{tenant.name}@example.com"
    created = await client.post(
        "/api/v1/users",
        json={"email": email, "password": "long enough pw", "role": "viewer"},
        headers=tenant.admin,
    )
    assert created.status_code == 201, created.text
    user_id = created.json()["id"]
    assert "password" not in created.json()
    short = await client.post(
        "/api/v1/users",
        json={"email": "x@y.example", "password": "short"},
        headers=tenant.admin,
    )
    assert short.status_code == 400
    assert short.json()["errors"][0]["field"] == "password"
    duplicate = await client.post(
        "/api/v1/users",
        json={"email": email, "password": "long enough pw"},
        headers=tenant.admin,
    )
    assert duplicate.status_code == 409
    promote = await client.patch(
        f"/api/v1/users/{user_id}", json={"role": "owner"}, headers=tenant.admin
    )
    assert promote.status_code == 403
    updated = await client.patch(
        f"/api/v1/users/{user_id}", json={"role": "admin"}, headers=tenant.owner
    )
    assert updated.json()["role"] == "admin"
    assert (
        await client.get(f"/api/v1/users/{user_id}", headers=other_tenant.owner)
    ).status_code == 404
    viewer = await client.delete(f"/api/v1/users/{user_id}", headers=tenant.viewer)
    assert viewer.status_code == 403
    removed = await client.delete(f"/api/v1/users/{user_id}", headers=tenant.owner)
    assert removed.status_code == 204
    listed = await client.get("/api/v1/users?role=owner", headers=tenant.viewer)
    assert [u["role"] for u in listed.json()["items"]] == ["owner"]


async def test_sessions_follow_the_user_row(
    client: httpx.AsyncClient, tenant: TenantHandle
) -> None:
    email = f"temp-{tenant.name}@example.com"
    created = await client.post(
        "/api/v1/users",
        json={"email": email, "password": "first password", "role": "admin"},
        headers=tenant.owner,
    )
    user_id = created.json()["id"]
    token = await login(client, email, "first password")
    assert (await client.get("/api/v1/auth/me", headers=bearer(token))).json()["role"] == "admin"
    await client.patch(f"/api/v1/users/{user_id}", json={"role": "viewer"}, headers=tenant.owner)
    demoted = await client.post("/api/v1/api-keys", json={"name": "x"}, headers=bearer(token))
    assert demoted.status_code == 403
    await client.patch(
        f"/api/v1/users/{user_id}", json={"password": "second password"}, headers=tenant.owner
    )
    assert (await client.get("/api/v1/auth/me", headers=bearer(token))).status_code == 401
    fresh = await login(client, email, "second password")
    await client.delete(f"/api/v1/users/{user_id}", headers=tenant.owner)
    assert (await client.get("/api/v1/auth/me", headers=bearer(fresh))).status_code == 401


async def test_successful_sign_ins_are_not_limited(
    api_context: ApiContext, tenant: TenantHandle
) -> None:
    app = create_app(with_settings(api_context, login_attempts_per_email=2))
    async with client_for(app, ("198.51.100.8", 40000)) as client:
        for _ in range(4):
            await login(client, tenant.owner_email)


async def test_concurrent_guesses_cannot_outrun_the_lockout(
    client: httpx.AsyncClient, make_tenant: MakeTenant, api_context: ApiContext
) -> None:
    victim = await make_tenant()
    limit = api_context.settings.login_attempts_per_email
    guesses = [f"guess-{i}" for i in range(79)] + [PASSWORD]

    async def attempt(password: str) -> int:
        body = {"email": victim.owner_email, "password": password}
        return (await client.post("/api/v1/auth/login", json=body)).status_code

    statuses = await asyncio.gather(*(attempt(p) for p in guesses))
    evaluated = [s for s in statuses if s in (200, 401)]
    assert len(evaluated) <= limit
    assert set(statuses) <= {200, 401, 429}
    if 200 not in statuses:
        locked = await client.post(
            "/api/v1/auth/login", json={"email": victim.owner_email, "password": PASSWORD}
        )
        assert locked.status_code == 429


async def test_a_sign_in_flood_is_refused_instead_of_queued(api_context: ApiContext) -> None:
    """Password hashes run one at a time off the event loop; a flood beyond what waits for
    them is answered 503 at once instead of piling up work."""
    app = create_app(api_context)
    flood = 200

    async def attempt(i: int) -> int:
        # Every attempt from its own address and for its own account: no rate limit applies.
        async with client_for(app, (f"203.0.113.{i % 250}", 40000 + i)) as client:
            body = {"email": f"flood-{i}@x.example", "password": "guess"}
            return (await client.post("/api/v1/auth/login", json=body)).status_code

    statuses = await asyncio.gather(*(attempt(i) for i in range(flood)))
    assert set(statuses) == {401, 503}
    assert statuses.count(401) < flood // 2
