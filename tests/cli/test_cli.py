"""The `vocals` command as a user runs it: exit codes and one-line errors, no tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest
from redis.asyncio import Redis

from tests.conftest import REPO_ROOT, _with_database
from vocals.services import Services, _start_embedded_postgres, _start_embedded_redis


def vocals(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VOCALS_")}
    return subprocess.run(
        [sys.executable, "-m", "vocals", *args],
        env={**clean, **(env or {})},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("VOCALS_HTTP_PORT", "eighty"),
        ("VOCALS_HTTP_PORT", "70000"),
        ("VOCALS_DATABASE_URL", "mysql://nope"),
        ("VOCALS_SECRET_KEY", "too-short"),
        ("VOCALS_RTP_PORTS", "30001-30000"),
        ("VOCALS_LOG_LEVEL", "loud"),
        ("VOCALS_MAX_CALLS", "0"),
        ("VOCALS_DIALS_IN_FLIGHT", "0"),
        ("VOCALS_PROCESS_LEASE_S", "0.1"),
        ("VOCALS_SMTP_URL", "http://mail.example"),
        ("VOCALS_WEB_CALL_MAX_S", "0"),
        ("VOCALS_WEB_CALL_MAX_S", "two hours"),
    ],
)
def test_an_invalid_setting_exits_2_naming_it(variable: str, value: str) -> None:
    result = vocals("doctor", env={variable: value})
    assert result.returncode == 2
    assert variable in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_an_unknown_key_in_the_settings_file_is_named(tmp_path: Path) -> None:
    config = tmp_path / "vocals.toml"
    config.write_text("http_port = 8001\nhttp_prot = 8002\n")
    result = vocals("doctor", "--config", str(config))
    assert result.returncode == 2
    assert "VOCALS_HTTP_PROT" in result.stderr


def test_doctor_says_in_one_line_that_postgres_is_unreachable() -> None:
    result = vocals("doctor", env={"VOCALS_DATABASE_URL": "postgresql://vocals@127.0.0.1:1/vocals"})
    assert result.returncode == 1
    lines = [line for line in result.stdout.splitlines() if line.startswith("FAIL PostgreSQL")]
    assert len(lines) == 1
    assert "cannot connect" in lines[0] and "VOCALS_DATABASE_URL" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_help_is_everywhere() -> None:
    for args in (
        ["--help"],
        ["serve", "--help"],
        ["admin", "--help"],
        ["admin", "create-user", "--help"],
        ["selftest", "--help"],
    ):
        result = vocals(*args)
        assert result.returncode == 0, (args, result.stderr)
        assert "Usage" in result.stdout


async def test_migrate_and_admin_commands(services: Services) -> None:
    name = f"vocals_cli_{uuid.uuid4().hex[:10]}"
    url = _with_database(services.database_url, name)
    env = {"VOCALS_DATABASE_URL": url, "VOCALS_REDIS_URL": services.redis_url}
    admin = await asyncpg.connect(_with_database(services.database_url, "postgres"))
    try:
        first = vocals("migrate", env=env)
        assert first.returncode == 0, first.stderr
        assert "0001_initial" in first.stdout
        assert "PostgreSQL: VOCALS_DATABASE_URL" in first.stdout
        again = vocals("migrate", env=env)
        assert "none pending" in again.stdout

        assert vocals("admin", "create-tenant", "acme", env=env).returncode == 0
        duplicate = vocals("admin", "create-tenant", "acme", env=env)
        assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
        user = vocals(
            "admin",
            "create-user",
            "--tenant",
            "acme",
            "--email",
            "a@acme.test",
            "--password",
            "long enough secret",
            "--role",
            "owner",
            env=env,
        )
        assert user.returncode == 0, user.stderr
        bad_role = vocals(
            "admin",
            "create-user",
            "--tenant",
            "acme",
            "--email",
            "b@acme.test",
            "--password",
            "long enough secret",
            "--role",
            "god",
            env=env,
        )
        assert bad_role.returncode == 1 and "role must be" in bad_role.stderr
        missing = vocals(
            "admin",
            "create-user",
            "--tenant",
            "nope",
            "--email",
            "c@acme.test",
            "--password",
            "long enough secret",
            env=env,
        )
        assert missing.returncode == 1 and "no tenant named" in missing.stderr
        for result in (duplicate, bad_role, missing):
            assert "Traceback" not in result.stderr
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_trunks_render_prints_what_would_be_written(services: Services) -> None:
    from store.db import create_pool
    from store.repositories.config import (
        AgentRepository,
        InboundRouteRepository,
        SipTrunkRepository,
    )
    from store.repositories.tenants import TenantsRepository
    from store.secrets import SecretBox

    name = f"vocals_cli_{uuid.uuid4().hex[:10]}"
    url = _with_database(services.database_url, name)
    secret = "render-test-secret-key-" + "x" * 16
    env = {
        "VOCALS_DATABASE_URL": url,
        "VOCALS_REDIS_URL": services.redis_url,
        "VOCALS_SECRET_KEY": secret,
    }
    admin = await asyncpg.connect(_with_database(services.database_url, "postgres"))
    try:
        assert vocals("migrate", env=env).returncode == 0
        pool = await create_pool(url, max_size=1)
        tenant = await TenantsRepository(pool).create("acme")
        trunk = await SipTrunkRepository(pool, SecretBox(secret)).create(
            tenant.id,
            {
                "name": "carrier",
                "kind": "registration",
                "host": "sip.carrier.example",
                "username": "acme",
                "password": "s3cret-pass",
            },
        )
        agent = await AgentRepository(pool).create(tenant.id, {"name": "front desk"})
        await InboundRouteRepository(pool).create(
            tenant.id, {"did": "+15551230000", "agent_id": agent.id, "trunk_id": trunk.id}
        )
        await pool.close()

        result = vocals("trunks", "render", env=env)
        assert result.returncode == 0, result.stderr
        assert "type=registration" in result.stdout
        assert "server_uri=sip:sip.carrier.example" in result.stdout
        assert "s3cret-pass" not in result.stdout
        assert "password=****" in result.stdout
        revealed = vocals("trunks", "render", "--show-secrets", env=env)
        assert "password=s3cret-pass" in revealed.stdout
        assert "+15551230000" in result.stdout and "Stasis(vocals,inbound" in result.stdout
        assert not list((REPO_ROOT / ".vocals" / "asterisk").glob("pjsip_vocals_trunks.conf.*"))
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.mark.slow
async def test_embedded_postgres_and_redis_start_from_pip_packages(tmp_path: Path) -> None:
    """The fallback for a machine with neither server: both start under the data dir."""
    db_url, pg = _start_embedded_postgres(tmp_path)
    redis_url, valkey = _start_embedded_redis(tmp_path)
    embedded = Services(db_url, "embedded", redis_url, "embedded", [pg, valkey])
    try:
        conn = await asyncpg.connect(db_url.replace("/vocals?", "/postgres?"))
        assert "PostgreSQL 16" in await conn.fetchval("SELECT version()")
        await conn.close()
        client = Redis.from_url(redis_url)
        assert await client.ping()
        await client.aclose()
    finally:
        embedded.close()
