"""Campaigns and the do-not-call list in a real browser (Debian's Chromium driven by
Playwright, `ui/e2e/campaigns.spec.ts`) against a real `vocals serve`: an admin creates a
campaign through the form, imports leads with a bad row and reads the row's error, then adds
and removes a do-not-call number. What the browser did is checked here in the database."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest

from store.db import create_pool
from store.repositories.config import UserRepository
from store.repositories.tenants import TenantsRepository
from store.secrets import hash_password
from tests.api.test_sip_trunks import REGISTRATION
from tests.faults.harness import ServeProcess
from tests.loadtest.test_loadtest_cli import server_env
from tests.ui.seed import SEED_AGENT
from tests.ui.test_browser import ARTIFACTS, CHROMIUM, UI

PASSWORD = "correct-horse-battery"
# Three pages, two viewports and a dozen round trips on a loaded 2-core box.
E2E_TIMEOUT_S = 240.0
# The agent's number: one of the tenant's own, so the form may offer it as caller id.
# A number of its own: the run shares one database, and the admin UI test holds +4930555000.
CALLER_ID = "+4930555987"

pytestmark = pytest.mark.skipif(
    not (UI / "dist" / "index.html").is_file() or not CHROMIUM.exists(),
    reason="needs the UI build (npm --prefix ui run build) and Chromium at /usr/bin/chromium",
)


async def _seed_owner(pool: asyncpg.Pool) -> tuple[uuid.UUID, str]:
    tenant = await TenantsRepository(pool).create(f"campaigns-{uuid.uuid4().hex[:8]}")
    email = f"owner@{tenant.name}.example"
    await UserRepository(pool).create(
        tenant.id, {"email": email, "password_hash": await hash_password(PASSWORD), "role": "owner"}
    )
    return tenant.id, email


async def _agent_and_trunk(base_url: str, email: str) -> None:
    """What a campaign needs first, made through the API as an admin would."""
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        login = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        agent = {**SEED_AGENT, "inbound_numbers": [CALLER_ID]}
        created = await client.post("/api/v1/agents", json=agent, headers=headers)
        assert created.status_code == 201, created.text
        trunk = await client.post("/api/v1/sip-trunks", json=REGISTRATION, headers=headers)
        assert trunk.status_code == 201, trunk.text


async def test_an_admin_runs_campaigns_and_the_do_not_call_list_in_the_browser(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    env = server_env(database_url, redis_url)
    env["VOCALS_DATA_DIR"] = str(tmp_path / "data")
    server = ServeProcess(env, tmp_path / "serve.log")
    pool: asyncpg.Pool = await create_pool(database_url, max_size=1)
    await server.start()
    try:
        tenant_id, email = await _seed_owner(pool)
        await _agent_and_trunk(server.url, email)
        process = await asyncio.create_subprocess_exec(
            "npx",
            "--no-install",
            "playwright",
            "test",
            "e2e/campaigns.spec.ts",
            cwd=UI,
            env={
                **os.environ,
                "VOCALS_E2E_URL": server.url,
                "VOCALS_E2E_CAMPAIGN_EMAIL": email,
                "VOCALS_E2E_CAMPAIGN_PASSWORD": PASSWORD,
                "VOCALS_E2E_CALLER_ID": CALLER_ID,
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
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "playwright-campaigns.log").write_bytes(output)
        assert process.returncode == 0, output.decode(errors="replace")[-6000:]

        # What the browser's clicks wrote: the campaign as the form filled it, the two good
        # leads of the second import only (the refused one added nothing), the list empty again.
        campaign = await pool.fetchrow("SELECT * FROM campaigns WHERE tenant_id = $1", tenant_id)
        assert campaign is not None
        assert campaign["name"] == "Spring reminders" and campaign["status"] == "draft"
        assert campaign["max_concurrency"] == 2 and campaign["caller_ids"] == [CALLER_ID]
        assert campaign["calling_window"]["holidays"] == "US"
        leads = await pool.fetch(
            "SELECT number, variables FROM campaign_leads WHERE campaign_id = $1 ORDER BY number",
            campaign["id"],
        )
        assert [(r["number"], r["variables"]["first_name"]) for r in leads] == [
            ("+14155550100", "Ada"),
            ("+14155550101", "Bob"),
        ]
        listed = await pool.fetchval(
            "SELECT count(*) FROM do_not_call WHERE tenant_id = $1", tenant_id
        )
        assert listed == 0
        actions = await pool.fetch(
            "SELECT action FROM audit_logs WHERE tenant_id = $1 AND entity_type = 'do_not_call' "
            "ORDER BY id",
            tenant_id,
        )
        assert [r["action"] for r in actions] == ["add", "remove"]
    finally:
        await server.kill()
        await pool.close()
