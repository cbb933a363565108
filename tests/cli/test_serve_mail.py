"""A real `vocals serve` mails a password reset link through VOCALS_SMTP_URL, with neither
the link's token nor the mail server's password in its log; without VOCALS_SMTP_URL it warns
at start-up and writes the link to the log (development's log-only mode)."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from store.db import create_pool
from store.repositories.config import UserRepository
from store.repositories.tenants import TenantsRepository
from store.secrets import hash_password
from tests.fakes.smtp import PASSWORD as SMTP_PASSWORD
from tests.fakes.smtp import FakeSmtp
from tests.faults.harness import ServeProcess
from tests.loadtest.test_loadtest_cli import server_env

MAIL_WAIT_S = 30.0
# How often a test reads the server's log while it waits for a line.
LOG_POLL_S = 0.05


@pytest.fixture
async def smtp() -> AsyncIterator[FakeSmtp]:
    server = FakeSmtp()
    await server.start()
    yield server
    await server.stop()


async def _user(database_url: str) -> str:
    pool = await create_pool(database_url, max_size=1)
    try:
        tenant = await TenantsRepository(pool).create(f"mail-{uuid.uuid4().hex[:8]}")
        email = f"owner@{tenant.name}.example"
        await UserRepository(pool).create(
            tenant.id,
            {"email": email, "password_hash": await hash_password("old password"), "role": "owner"},
        )
        return email
    finally:
        await pool.close()


async def _logged(server: ServeProcess, event: str) -> None:
    """Until the server's log holds `event` (the log is a file: nothing to wait on)."""
    for _ in range(int(MAIL_WAIT_S / LOG_POLL_S)):
        if event in server.log():
            return
        await asyncio.sleep(LOG_POLL_S)
    raise AssertionError(f"the server never logged {event}")


async def _serve(env: dict[str, str], log_path: Path) -> ServeProcess:
    # Every test of the run signs in from 127.0.0.1 into the same Redis db: the per-address
    # limit is another test's subject, not this one's.
    env = {**env, "VOCALS_LOGIN_ATTEMPTS_PER_IP": "100000"}
    server = ServeProcess(env, log_path)
    await server.start()
    return server


async def test_reset_mail_goes_through_the_operators_smtp_server(
    database_url: str, redis_url: str, tmp_path: Path, smtp: FakeSmtp
) -> None:
    env = server_env(database_url, redis_url)
    env.update(
        VOCALS_SMTP_URL=smtp.url, VOCALS_SMTP_FROM="Ops <ops@x.test>", VOCALS_LOG_LEVEL="info"
    )
    server = await _serve(env, tmp_path / "serve.log")
    try:
        email = await _user(database_url)
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            asked = await client.post("/api/v1/auth/password-reset", json={"email": email})
        assert asked.status_code == 202
        mail = await asyncio.wait_for(smtp.messages.get(), MAIL_WAIT_S)
        # The server logs the sending once the SMTP server's answer reached it.
        await _logged(server, "mail.sent")
    finally:
        await server.kill()
    assert (mail["To"], mail["From"]) == (email, "Ops <ops@x.test>")
    body = mail.get_content()
    token = body.split(f"{server.url}/reset-password#token=")[1].split()[0]
    log = server.log()
    assert "mail.sent" in log and "mail.log_only_mode" not in log
    assert token not in log and SMTP_PASSWORD not in log and "p%40ss" not in log


async def test_without_smtp_the_link_is_logged_and_the_mode_announced(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    env = server_env(database_url, redis_url)
    env.update(VOCALS_LOG_LEVEL="info", VOCALS_LOG_FORMAT="json")
    server = await _serve(env, tmp_path / "serve.log")
    try:
        email = await _user(database_url)
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            asked = await client.post("/api/v1/auth/password-reset", json={"email": email})
        assert asked.status_code == 202
    finally:
        server.signal(signal.SIGTERM)
        await server.exit_code()
    events = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    assert any(e["event"] == "mail.log_only_mode" for e in events)
    mails = [e for e in events if e["event"] == "mail.log_only"]
    assert mails[0]["to"] == email
    assert f"{server.url}/reset-password#token=" in mails[0]["body"]
