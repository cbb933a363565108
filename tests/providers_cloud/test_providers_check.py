"""`vocals providers check`, run as the operator runs it, against fake vendors with stored keys."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid

import asyncpg

from store.db import create_pool
from store.repositories.config import ProviderCredentialRepository
from store.repositories.tenants import TenantsRepository
from store.secrets import SecretBox
from tests.conftest import REPO_ROOT, _with_database
from tests.fakes.anthropic_messages import FAKE_ANTHROPIC_KEY, FakeAnthropic
from tests.fakes.gemini_generate import FakeGemini
from vocals.services import Services

SECRET = "providers-check-secret-key-" + "x" * 16


async def vocals(*args: str, env: dict[str, str]) -> tuple[int, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VOCALS_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "vocals",
        *args,
        env={**clean, **env},
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    return await process.wait(), output.decode()


async def test_check_says_which_keys_work(services: Services) -> None:
    anthropic, gemini = FakeAnthropic(), FakeGemini()
    await anthropic.start()
    await gemini.start()
    name = f"vocals_check_{uuid.uuid4().hex[:10]}"
    url = _with_database(services.database_url, name)
    env = {
        "VOCALS_DATABASE_URL": url,
        "VOCALS_REDIS_URL": services.redis_url,
        "VOCALS_SECRET_KEY": SECRET,
    }
    admin = await asyncpg.connect(_with_database(services.database_url, "postgres"))
    try:
        status, output = await vocals("migrate", env=env)
        assert status == 0, output
        pool = await create_pool(url, max_size=1)
        tenant = await TenantsRepository(pool).create("acme")
        credentials = ProviderCredentialRepository(pool, SecretBox(SECRET))
        await credentials.create(
            tenant.id,
            {
                "name": "claude-main",
                "kind": "llm",
                "vendor": "claude",
                "api_key": FAKE_ANTHROPIC_KEY,
                "options": {"base_url": anthropic.base_url},
            },
        )
        await credentials.create(
            tenant.id,
            {
                "name": "gemini-old-key",
                "kind": "llm",
                "vendor": "gemini",
                "api_key": "AIza-revoked-key",
                "options": {"base_url": gemini.base_url},
            },
        )
        await credentials.create(
            tenant.id, {"name": "piper", "kind": "tts", "vendor": "piper", "options": {}}
        )
        await pool.close()

        status, output = await vocals("providers", "check", "--tenant", "acme", env=env)
        lines = [line for line in output.splitlines() if line.startswith(("ok", "FAIL"))]
        assert status == 1, output
        assert lines == [
            "ok   llm claude (claude-main): the key works",
            "FAIL llm gemini (gemini-old-key): the key was refused by gemini: check it in your "
            "gemini account (gemini: credential refused (HTTP 400 API_KEY_INVALID))",
            "ok   tts piper (piper): runs on this machine, no key to check",
        ]
        assert "AIza-revoked-key" not in output and FAKE_ANTHROPIC_KEY not in output
        assert [r.path for r in anthropic.requests] == ["/v1/models"]

        status, output = await vocals("providers", "check", "--tenant", "nobody", env=env)
        assert status == 1
        assert "no tenant named 'nobody'" in output
    finally:
        await anthropic.stop()
        await gemini.stop()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
