"""A passkey in a real browser: Debian's Chromium (driven by Playwright, its virtual
authenticator switched on over the DevTools protocol) against a real `vocals serve` whose
public URL is on localhost, as WebAuthn needs a host name (`ui/e2e/passkey.spec.ts`)."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import pytest

from store.db import create_pool
from store.repositories.config import UserRepository
from store.repositories.tenants import TenantsRepository
from store.secrets import hash_password
from tests.faults.harness import ServeProcess
from tests.loadtest.test_loadtest_cli import server_env
from tests.ui.test_browser import ARTIFACTS, CHROMIUM, UI

PASSWORD = "correct-horse-battery"
# Two sign-ins and a registration on a loaded 2-core box.
E2E_TIMEOUT_S = 180.0

pytestmark = pytest.mark.skipif(
    not (UI / "dist" / "index.html").is_file() or not CHROMIUM.exists(),
    reason="needs the UI build (npm --prefix ui run build) and Chromium at /usr/bin/chromium",
)


async def _seed(database_url: str) -> str:
    """A tenant with an admin who has no second factor yet; their e-mail."""
    pool = await create_pool(database_url, max_size=1)
    try:
        tenant = await TenantsRepository(pool).create(f"passkey-{uuid.uuid4().hex[:8]}")
        email = f"admin@{tenant.name}.example"
        await UserRepository(pool).create(
            tenant.id,
            {"email": email, "password_hash": await hash_password(PASSWORD), "role": "admin"},
        )
        return email
    finally:
        await pool.close()


async def test_a_passkey_is_added_and_signs_in_in_chromium(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    env = server_env(database_url, redis_url)
    env["VOCALS_PUBLIC_URL"] = f"http://localhost:{env['VOCALS_HTTP_PORT']}"
    server = ServeProcess(env, tmp_path / "serve.log")
    await server.start()
    try:
        email = await _seed(database_url)
        process = await asyncio.create_subprocess_exec(
            "npx",
            "--no-install",
            "playwright",
            "test",
            "e2e/passkey.spec.ts",
            cwd=UI,
            env={
                **os.environ,
                "VOCALS_E2E_URL": server.url,
                "VOCALS_E2E_PASSKEY_EMAIL": email,
                "VOCALS_E2E_PASSKEY_PASSWORD": PASSWORD,
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
    (ARTIFACTS / "playwright-passkey.log").write_bytes(output)
    assert process.returncode == 0, output.decode(errors="replace")[-6000:]
    assert b"1 passed" in output
