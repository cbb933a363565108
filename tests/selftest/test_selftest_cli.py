"""`vocals selftest` as a user runs it: a real `vocals serve` (load-test providers) against the
fake Asterisk, and selftest as a second real process placing its Local channel call through
the fake into the server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Final

import asyncpg
import httpx
import pytest

from provisioning.models import Trunk
from provisioning.naming import object_names
from store.repositories.config import AgentRepository, ApiKeyRepository, InboundRouteRepository
from store.repositories.tenants import TenantsRepository
from store.secrets import generate_api_key
from tests.conftest import REPO_ROOT
from tests.fakes.asterisk import Callee, FakeAsterisk
from tests.loadtest.test_loadtest_cli import server_env

NUMBER: Final = "15550100177"
UNROUTED: Final = "15550100199"
# The number the server dials in the outbound test; the fake loops it back into selftest.
CALLED: Final = "15550100155"
SERVER_START_S: Final = 60.0
SELFTEST_TIMEOUT_S: Final = 120.0
# The caller's fifth phrase is its goodbye: the agent ends the call on it.
END_CALL_AFTER_TURNS: Final = 5


async def make_agent(pool: asyncpg.Pool) -> tuple[uuid.UUID, uuid.UUID]:
    """A tenant with a load-test agent that hangs up after the caller's goodbye."""
    tenant = await TenantsRepository(pool).create(f"selftest-{uuid.uuid4().hex[:8]}")
    agent = await AgentRepository(pool).create(
        tenant.id,
        {
            "name": "selftest agent",
            "system_prompt": "Test agent.",
            "welcome_message": "Hello, this is the test agent.",
            "stt": {"vendor": "loadtest", "options": {"stt_delay_ms": 200}},
            "llm": {
                "vendor": "loadtest",
                "options": {"end_call_after_turns": END_CALL_AFTER_TURNS},
            },
            "tts": {"vendor": "loadtest", "options": {"ttfb_ms": 100}},
            "barge_in_sensitivity": "high",
        },
    )
    return tenant.id, agent.id


async def routed_agent(pool: asyncpg.Pool) -> None:
    """The test agent answering NUMBER (once per run: numbers are unique)."""
    if await InboundRouteRepository(pool).resolve_did(NUMBER) is not None:
        return
    tenant_id, agent_id = await make_agent(pool)
    await InboundRouteRepository(pool).replace_for_agent(tenant_id, agent_id, [NUMBER])


@pytest.fixture
async def asterisk() -> AsyncIterator[FakeAsterisk]:
    fake = FakeAsterisk(password="selftest-ari-password")
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def serving(
    asterisk: FakeAsterisk, database_url: str, redis_url: str, pg_pool: asyncpg.Pool
) -> AsyncIterator[dict[str, str]]:
    """`vocals serve` controlling the fake Asterisk; yields the environment both share."""
    await routed_agent(pg_pool)
    env = server_env(database_url, redis_url)
    env.update(VOCALS_ARI_URL=asterisk.ari_url, VOCALS_ARI_PASSWORD=asterisk.password)
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "vocals", "serve", cwd=REPO_ROOT, env=env
    )
    try:
        await healthy(env["VOCALS_PUBLIC_URL"], server)
        await asterisk.wait_for_app("vocals", timeout_s=SERVER_START_S)
        yield env
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(server.wait(), 30)
        except TimeoutError:
            server.kill()
            await server.wait()


async def healthy(base: str, server: asyncio.subprocess.Process) -> None:
    """Until the server answers /healthz with its greetings synthesized."""
    deadline = time.monotonic() + SERVER_START_S
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            assert server.returncode is None, "vocals serve exited"
            with contextlib.suppress(httpx.HTTPError, ValueError):
                body = (await client.get(f"{base}/healthz")).json()
                if body.get("extra", {}).get("greetings_ready") is True:
                    return
            await asyncio.sleep(0.2)
    raise AssertionError("vocals serve did not become healthy")


async def selftest(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "vocals",
        "selftest",
        *args,
        cwd=REPO_ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), SELFTEST_TIMEOUT_S)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_selftest_call_goes_as_a_call_should(
    serving: dict[str, str], asterisk: FakeAsterisk, tmp_path: Any
) -> None:
    wav = tmp_path / "call.wav"
    status, out, err = await selftest(serving, "--number", NUMBER, "--json", "--save", str(wav))
    assert status == 0, out + err
    report = json.loads(out)
    assert report["ok"] is True and report["problems"] == []
    assert 0 < report["answer_ms"] < 2000
    # The greeting is cached at start-up: it comes as soon as the server's media is up.
    assert 0 < report["greeting_ms"] < 2000
    answered = [t for t in report["turns"] if t["response_ms"] is not None]
    assert len(answered) >= 4, report["turns"]
    # End of speech (500 ms) + STT 200 + LLM 200 + TTS 100 and the server's own work.
    assert all(800 < t["response_ms"] < 3000 for t in answered), report["turns"]
    assert 0 < report["barge_in_ms"] < 1500
    assert report["hung_up_by"] == "agent"
    assert -30 < report["level_dbfs"] < -6
    assert report["leftover_channels"] == [] and report["leftover_bridges"] == []
    assert report["ari"]["server_app_registered"] is True
    assert report["server"]["ari"] == "connected"
    assert wav.stat().st_size > 8000 * 2 * 2 * 10  # stereo, more than 10 s
    assert asterisk.live_channels() == [] and asterisk.live_bridges() == []
    originated = asterisk.calls_to("POST", "/channels/selftest-")
    dialled = [c.params["endpoint"] for c in originated if "endpoint" in c.params]
    assert dialled == [f"Local/{NUMBER}@vocals-inbound/n"]


async def test_selftest_fails_with_the_reason_when_no_agent_answers(
    serving: dict[str, str], asterisk: FakeAsterisk
) -> None:
    status, out, err = await selftest(serving, "--number", UNROUTED)
    assert status == 1, out + err
    assert "PROBLEM    the call was never answered" in out
    assert "selftest FAILED" in out
    assert asterisk.live_channels() == [] and asterisk.live_bridges() == []


async def test_selftest_says_why_it_cannot_place_a_call(database_url: str, redis_url: str) -> None:
    env = server_env(database_url, redis_url)  # nothing listens on its ARI or HTTP ports
    status, out, err = await selftest(env, "--number", NUMBER)
    assert status == 2, out + err
    assert f"ARI at {env['VOCALS_ARI_URL']}" in err and "Traceback" not in err
    assert env["VOCALS_ARI_PASSWORD"] not in out + err
    status, out, err = await selftest(env, "--outbound", "human")
    assert status == 2 and "--outbound needs --number" in err, out + err


async def test_selftest_outbound_call_answered_by_a_person(
    serving: dict[str, str], asterisk: FakeAsterisk, pg_pool: asyncpg.Pool
) -> None:
    tenant_id, _ = await make_agent(pg_pool)
    new = generate_api_key()
    await ApiKeyRepository(pg_pool).create(
        tenant_id,
        {"name": "selftest", "prefix": new.prefix, "key_hash": new.key_hash, "role": "admin"},
    )
    base = serving["VOCALS_PUBLIC_URL"]
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {new.key}"}) as api:
        # A second trunk, as on a real site: the server then dials only with a trunk named.
        other = await api.post(
            f"{base}/api/v1/sip-trunks", json={"name": "other", "kind": "ip", "host": "127.0.0.3"}
        )
        made = await api.post(
            f"{base}/api/v1/sip-trunks", json={"name": "loop", "kind": "ip", "host": "127.0.0.2"}
        )
    assert other.status_code == 201 and made.status_code == 201, other.text + made.text
    trunk = Trunk(id=made.json()["id"], tenant_id=str(tenant_id), name="loop", kind="ip", host="x")
    asterisk.endpoints[object_names(trunk).endpoint] = "online"
    # AMD hears the callee's "Hello?" and the silence after it before saying HUMAN.
    loop = Callee(stasis_app="vocals-selftest", amd_s=2.0)
    asterisk.callees.update({CALLED: loop, f"+{CALLED}": loop})  # dialled as stored
    status, out, err = await selftest(
        serving,
        "--outbound",
        "human",
        "--number",
        CALLED,
        "--trunk-id",
        made.json()["id"],
        "--api-key",
        new.key,
        "--json",
    )
    assert status == 0, out + err
    report = json.loads(out)
    assert report["mode"] == "outbound-human" and report["problems"] == []
    assert 0 < report["greeting_ms"] < 3000
    assert len([t for t in report["turns"] if t["response_ms"] is not None]) >= 4
    assert report["hung_up_by"] == "agent"
    assert report["leftover_channels"] == [] and report["leftover_bridges"] == []
    dialled = [c.params.get("endpoint", "") for c in asterisk.calls_to("POST", "/channels/")]
    assert any(e.endswith(f"{CALLED}@{object_names(trunk).endpoint}") for e in dialled)
