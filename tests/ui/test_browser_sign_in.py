"""Signing in in a real browser (Debian's Chromium driven by Playwright) against a real
`vocals serve`: a password and a TOTP code, and single sign-on through an OpenID Connect
provider started here on 127.0.0.1 (`ui/e2e/sign-in.spec.ts`)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pyotp
import pytest

from store.db import create_pool
from store.repositories.config import UserRepository
from store.repositories.tenants import TenantsRepository
from store.secrets import hash_password
from tests.fakes.oidc_provider import CLIENT_ID, CLIENT_SECRET, FakeOidcProvider, OidcUser
from tests.faults.harness import ServeProcess
from tests.loadtest.test_loadtest_cli import server_env
from tests.ui.test_browser import ARTIFACTS, CHROMIUM, UI

PASSWORD = "correct-horse-battery"
# Two pages and a provider round trip on a loaded 2-core box.
E2E_TIMEOUT_S = 180.0

pytestmark = pytest.mark.skipif(
    not (UI / "dist" / "index.html").is_file() or not CHROMIUM.exists(),
    reason="needs the UI build (npm --prefix ui run build) and Chromium at /usr/bin/chromium",
)


@pytest.fixture
async def idp() -> AsyncIterator[FakeOidcProvider]:
    provider = FakeOidcProvider()
    await provider.start()
    yield provider
    await provider.stop()


async def _seed(database_url: str) -> tuple[str, str, str]:
    """A tenant with an owner and a user to enrol; their e-mails and the tenant's name."""
    pool = await create_pool(database_url, max_size=1)
    try:
        tenant = await TenantsRepository(pool).create(f"browser-{uuid.uuid4().hex[:8]}")
        users = UserRepository(pool)
        password_hash = await hash_password(PASSWORD)
        emails = []
        for role in ("owner", "admin"):
            email = f"{role}@{tenant.name}.example"
            await users.create(
                tenant.id, {"email": email, "password_hash": password_hash, "role": role}
            )
            emails.append(email)
        return emails[0], emails[1], tenant.name
    finally:
        await pool.close()


async def _signed_in(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def test_sign_in_with_a_second_factor_and_with_single_sign_on(
    database_url: str, redis_url: str, tmp_path: Path, idp: FakeOidcProvider
) -> None:
    env = server_env(database_url, redis_url)
    env["VOCALS_ALLOW_PRIVATE_URLS"] = "true"
    server = ServeProcess(env, tmp_path / "serve.log")
    await server.start()
    try:
        owner, mfa, tenant = await _seed(database_url)
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            headers = await _signed_in(client, mfa)
            started = await client.post("/api/v1/auth/two-factor/totp", headers=headers)
            secret = started.json()["secret"]
            confirmed = await client.post(
                "/api/v1/auth/two-factor/totp/confirm",
                json={"code": pyotp.TOTP(secret).now()},
                headers=headers,
            )
            assert confirmed.status_code == 200, confirmed.text
            created = await client.post(
                "/api/v1/sso-providers",
                json={
                    "name": "Company IdP",
                    "issuer": idp.issuer,
                    "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET,
                    "allowed_domains": [f"{tenant}.example"],
                },
                headers=await _signed_in(client, owner),
            )
            assert created.status_code == 201, created.text
        idp.user = OidcUser(email=f"sso.user@{tenant}.example")
        process = await asyncio.create_subprocess_exec(
            "npx",
            "--no-install",
            "playwright",
            "test",
            "e2e/sign-in.spec.ts",
            cwd=UI,
            env={
                **os.environ,
                "VOCALS_E2E_URL": server.url,
                "VOCALS_E2E_MFA_EMAIL": mfa,
                "VOCALS_E2E_MFA_PASSWORD": PASSWORD,
                "VOCALS_E2E_TOTP_SECRET": secret,
                "VOCALS_E2E_SSO_PATH": created.json()["sign_in_path"],
                "VOCALS_E2E_SSO_EMAIL": idp.user.email,
                "VOCALS_E2E_SSO_TENANT": tenant,
                "VOCALS_E2E_ARTIFACTS": str(ARTIFACTS),
                "VOCALS_CHROMIUM": str(CHROMIUM),
            },
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            output, _ = await asyncio.wait_for(process.communicate(), E2E_TIMEOUT_S)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
    finally:
        await server.kill()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "playwright-sign-in.log").write_bytes(output)
    assert process.returncode == 0, output.decode(errors="replace")[-6000:]
    assert b"2 passed" in output
