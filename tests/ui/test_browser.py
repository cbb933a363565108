"""The admin UI in a real browser (Debian's Chromium driven by Playwright) against a real
`vocals serve` on a fresh database and Redis db, taking calls from a simulated Asterisk: the
Playwright suite in `ui/e2e/` runs as one test, with the server, an owner, a call placed by a
simulated caller and a recorded call (with a recording) prepared here."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import asyncpg
import httpx
import pytest

from store.db import create_pool
from store.repositories.tenants import TenantsRepository
from tests.fakes.openai_compatible import FakeOpenAI, ScriptedTurn
from tests.ui.seed import SEED_AGENT, create_agent, insert_call, login
from vocals.net import free_port
from vocals.simulator import AsteriskSimulator, SimulatedCall, caller_phrases

ROOT = Path(__file__).absolute().parents[2]
UI = ROOT / "ui"
ARTIFACTS = ROOT / "test-artifacts" / "ui"
CHROMIUM = Path(os.environ.get("VOCALS_CHROMIUM", "/usr/bin/chromium"))
# Caller phrases are synthesized by Piper once and kept between runs.
PHRASE_CACHE = Path(tempfile.gettempdir()) / "vocals-ui-caller-phrases"
TENANT = "Acme Dental"
EMAIL = "owner@acme.test"
PASSWORD = "correct-horse-battery"
VIEWER = "viewer@acme.test"
ARI_USER = "vocals"
# Start-up migrates, loads providers and warms offline models; a loaded 2-core box is slow.
SERVER_START_TIMEOUT_S = 90.0
# Answering, the welcome message and a caller turn through offline STT, LLM and TTS.
CALL_STEP_TIMEOUT_S = 60.0
# Caller speech of one phrase and the agent's reply, on that same box.
TURN_S = 6.0
# The whole browser suite (a dozen pages, each waited on).
E2E_TIMEOUT_S = 300.0

pytestmark = pytest.mark.skipif(
    not (UI / "dist" / "index.html").is_file()
    or not CHROMIUM.exists()
    or shutil.which("npx") is None,
    reason="needs the UI build (npm --prefix ui run build), npx and Chromium at /usr/bin/chromium",
)


def _vocals(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "vocals", *args],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
        capture_output=True,
    )


@pytest.fixture(scope="module")
async def asterisk() -> AsyncIterator[AsteriskSimulator]:
    sim = AsteriskSimulator(username=ARI_USER, password=uuid.uuid4().hex)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


@pytest.fixture(scope="module")
def server_env(
    database_url: str,
    redis_url: str,
    asterisk: AsteriskSimulator,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, str]:
    data = tmp_path_factory.mktemp("vocals-ui")
    port = free_port()
    return {
        **os.environ,
        "VOCALS_DATABASE_URL": database_url,
        "VOCALS_REDIS_URL": redis_url,
        "VOCALS_SECRET_KEY": uuid.uuid4().hex + uuid.uuid4().hex,
        "VOCALS_HTTP_PORT": str(port),
        "VOCALS_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "VOCALS_AUDIOSOCKET_PORT": str(free_port()),
        "VOCALS_AUDIOSOCKET_HEALTH_PORT": str(free_port()),
        "VOCALS_ARI_URL": asterisk.ari_url,
        "VOCALS_ARI_USER": asterisk.username,
        "VOCALS_ARI_PASSWORD": asterisk.password,
        "VOCALS_ARI_APP": asterisk.app,
        "VOCALS_DATA_DIR": str(data),
        "VOCALS_ASTERISK_CONFIG_DIR": str(data / "asterisk"),
        "VOCALS_RECORDINGS_DIR": str(data / "recordings"),
        "VOCALS_LOG_FORMAT": "console",
        # The test's webhook receiver listens on loopback.
        "VOCALS_ALLOW_PRIVATE_URLS": "true",
    }


@pytest.fixture(scope="module")
async def server(server_env: dict[str, str], asterisk: AsteriskSimulator) -> AsyncIterator[str]:
    """`vocals serve` as an operator runs it, from the repository root (it serves `ui/dist`),
    connected to the simulated Asterisk."""
    owner = ("--tenant", TENANT, "--email", EMAIL, "--password", PASSWORD, "--role", "owner")
    await asyncio.to_thread(_vocals, server_env, "admin", "create-tenant", TENANT)
    await asyncio.to_thread(_vocals, server_env, "admin", "create-user", *owner)
    viewer = ("--tenant", TENANT, "--email", VIEWER, "--password", PASSWORD, "--role", "viewer")
    await asyncio.to_thread(_vocals, server_env, "admin", "create-user", *viewer)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with (ARTIFACTS / "server.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "vocals",
            "serve",
            cwd=ROOT,
            env=server_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base_url = server_env["VOCALS_PUBLIC_URL"]
        try:
            await _wait_until_serving(base_url, process)
            await asterisk.wait_for_app(timeout_s=SERVER_START_TIMEOUT_S)
            yield base_url
        finally:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _wait_until_serving(base_url: str, process: asyncio.subprocess.Process) -> None:
    async with httpx.AsyncClient(timeout=2) as client, asyncio.timeout(SERVER_START_TIMEOUT_S):
        while True:
            if process.returncode is not None:
                raise RuntimeError(f"vocals serve exited with {process.returncode}: server.log")
            try:
                health = await client.get(f"{base_url}/healthz")
                # Serving, and the local models started: on a loaded box a first caller would
                # otherwise meet a recognizer still loading (and a call that ends in an error).
                if health.status_code == 200 and health.json()["extra"].get("greetings_ready"):
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.5)


@pytest.fixture(scope="module")
async def agent_id(server: str) -> str:
    token = await asyncio.to_thread(login, server, EMAIL, PASSWORD)
    return await asyncio.to_thread(create_agent, server, token)


@pytest.fixture(scope="module")
async def simulated_call(server: str, agent_id: str, asterisk: AsteriskSimulator) -> str:
    """A caller dials the agent's number, says two phrases and hangs up; the server records it."""
    phrases = await caller_phrases(PHRASE_CACHE)
    call = asterisk.place_call(SEED_AGENT["inbound_numbers"][0])
    async with asyncio.timeout(CALL_STEP_TIMEOUT_S):
        await call.media_up.wait()
    for phrase in phrases[:2]:
        call.play(phrase)
        await asyncio.sleep(TURN_S)
    await call.hangup()
    await call.wait_ended(CALL_STEP_TIMEOUT_S)
    token = await asyncio.to_thread(login, server, EMAIL, PASSWORD)
    return await _recorded_call_id(server, token, agent_id)


async def _recorded_call_id(server: str, token: str, agent_id: str) -> str:
    """The agent's call once its record reached PostgreSQL (written when the call ends)."""
    headers = {"Authorization": f"Bearer {token}"}
    query = {"agent_id": agent_id, "status": "completed"}
    async with httpx.AsyncClient(base_url=server, headers=headers, timeout=10) as client:
        async with asyncio.timeout(CALL_STEP_TIMEOUT_S):
            while True:
                page = (await client.get("/api/v1/calls", params=query)).raise_for_status().json()
                if page["items"]:
                    return str(page["items"][0]["id"])
                await asyncio.sleep(0.5)


@pytest.fixture(scope="module")
async def recorded_call(
    server: str,
    database_url: str,
    server_env: dict[str, str],
    agent_id: str,
    simulated_call: str,
) -> AsyncIterator[str]:
    """A finished call with every kind of data (inserted through the store), after the
    simulated one so that one is the agent's only completed call when it is looked up."""
    pool: asyncpg.Pool = await create_pool(database_url, max_size=1)
    try:
        tenant = await TenantsRepository(pool).find_by_name(TENANT)
        assert tenant is not None
        recordings = Path(server_env["VOCALS_RECORDINGS_DIR"])
        yield str(await insert_call(pool, tenant.id, uuid.UUID(agent_id), recordings))
    finally:
        await pool.close()


# The caller of the live call, told apart from the other calls on the pages.
LIVE_CALLER = "+4917600000042"


@pytest.fixture(scope="module")
async def live_call(
    recorded_call: str, tool_call: str, agent_id: str, asterisk: AsteriskSimulator
) -> AsyncIterator[SimulatedCall]:
    """A caller who is still on the line, talking turn after turn, while the suite opens the
    call's page and hangs it up from there; after the recorded calls so those stay as they are."""
    phrases = await caller_phrases(PHRASE_CACHE)
    call = asterisk.place_call(SEED_AGENT["inbound_numbers"][0], caller_number=LIVE_CALLER)
    async with asyncio.timeout(CALL_STEP_TIMEOUT_S):
        await call.media_up.wait()

    async def keep_talking() -> None:
        for turn in itertools.count():
            call.play(phrases[turn % 2])
            # Room for the agent's reply: the suite's own pages share the box with this call.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(call.ended.wait(), 2 * TURN_S)
            if call.ended.is_set():
                return

    talking = asyncio.create_task(keep_talking())
    try:
        yield call
    finally:
        if not call.ended.is_set():
            await call.hangup()
        await talking


# The agent that calls a tool, reached on its own number by its own caller.
TOOL_AGENT_NUMBER = "+4930777000"
TOOL_CALLER = "+4917600000077"
# A header value the tool needs: stored sealed, sent by the call, never shown by the UI.
TOOL_SECRET = "Bearer booking-0123456789wxyz"


class _BookingSystem(BaseHTTPRequestHandler):
    """The agent's tool: answers free slots and keeps the Authorization each request had."""

    authorizations: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.authorizations.append(self.headers.get("Authorization", ""))
        body = b'{"free": ["10:00", "14:30"]}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def booking_system() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BookingSystem)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/slots"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
async def tool_call(
    server: str, recorded_call: str, asterisk: AsteriskSimulator, booking_system: str
) -> AsyncIterator[str]:
    """A call through the real path in which the agent's model (an OpenAI-compatible server,
    faked) calls the agent's HTTP tool: the record the suite opens has the call in it."""
    llm = FakeOpenAI(
        api_key=None,
        turns=[
            ScriptedTurn(
                text="Let me look at the calendar.",
                tool_calls=[("check_availability", '{"day": "Friday"}')],
            ),
            ScriptedTurn(text="Friday at ten or half past two are free."),
        ],
        reply="Is there anything else?",
    )
    await llm.start()
    token = await asyncio.to_thread(login, server, EMAIL, PASSWORD)
    agent = {
        **SEED_AGENT,
        "name": "Table bookings",  # sorts after Reception, the trunk form's default agent
        "welcome_message": "Bookings, hello.",
        "llm": {"vendor": "openai_compatible", "options": {"base_url": llm.base_url}},
        "inbound_numbers": [TOOL_AGENT_NUMBER],
        "tools": [
            {
                "name": "check_availability",
                "description": "Free appointment slots on a day.",
                "url": booking_system,
                "parameters": {"type": "object", "properties": {"day": {"type": "string"}}},
                "headers": [{"name": "Authorization", "value": TOOL_SECRET}],
            }
        ],
    }
    try:
        agent_id = await asyncio.to_thread(create_agent, server, token, agent)
        phrases = await caller_phrases(PHRASE_CACHE)
        call = asterisk.place_call(TOOL_AGENT_NUMBER, caller_number=TOOL_CALLER)
        async with asyncio.timeout(CALL_STEP_TIMEOUT_S):
            await call.media_up.wait()
        # The caller speaks until the model was asked again with the tool's result (offline
        # recognition on a loaded box may miss a phrase).
        async with asyncio.timeout(2 * CALL_STEP_TIMEOUT_S):
            for turn in itertools.count():
                if len(llm.requests) >= 2:
                    break
                if call.ended.is_set():
                    raise RuntimeError("the tool call ended before its tool ran: server.log")
                call.play(phrases[turn % 2])
                await asyncio.sleep(2 * TURN_S)
        await asyncio.sleep(TURN_S)  # the reply after it is spoken
        await call.hangup()
        await call.wait_ended(CALL_STEP_TIMEOUT_S)
        yield await _recorded_call_id(server, token, agent_id)
    finally:
        await llm.stop()


class _WebhookReceiver(BaseHTTPRequestHandler):
    """Accepts every delivery; the UI shows what the delivery log says about it."""

    received: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.received.append(self.rfile.read(length))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def webhook_receiver() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _WebhookReceiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/vocals-events"
    finally:
        server.shutdown()
        server.server_close()


async def test_admin_ui_end_to_end(
    server: str,
    simulated_call: str,
    recorded_call: str,
    webhook_receiver: str,
    tool_call: str,
    live_call: SimulatedCall,
) -> None:
    env = {
        **os.environ,
        "VOCALS_E2E_URL": server,
        "VOCALS_E2E_EMAIL": EMAIL,
        "VOCALS_E2E_PASSWORD": PASSWORD,
        "VOCALS_E2E_VIEWER_EMAIL": VIEWER,
        "VOCALS_E2E_SIMULATED_CALL_ID": simulated_call,
        "VOCALS_E2E_CALL_ID": recorded_call,
        "VOCALS_E2E_WEBHOOK_URL": webhook_receiver,
        "VOCALS_E2E_LIVE_CALLER": LIVE_CALLER,
        "VOCALS_E2E_TOOL_CALL_ID": tool_call,
        "VOCALS_E2E_ARTIFACTS": str(ARTIFACTS),
        "VOCALS_CHROMIUM": str(CHROMIUM),
    }
    process = await asyncio.create_subprocess_exec(
        "npx",
        "--no-install",
        "playwright",
        "test",
        cwd=UI,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), E2E_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    (ARTIFACTS / "playwright.log").write_bytes(output)
    assert process.returncode == 0, output.decode(errors="replace")[-6000:]
    # The call sent the tool's secret header, unsealed for the request and only there: the
    # server's log of the whole run never holds it.
    assert _BookingSystem.authorizations[0] == TOOL_SECRET
    assert TOOL_SECRET.split()[1] not in (ARTIFACTS / "server.log").read_text()
    # The Hang up button on the live call's page ended it, not the caller.
    assert live_call.ended_by == "server"
    # The test delivery the UI sent reached the receiver.
    assert any(b"webhook.test" in body for body in _WebhookReceiver.received)
