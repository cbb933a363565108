"""Done-when of browser calls: Chromium, its fake microphone fed from a WAV of the synthesized
caller (Piper, as the demo's caller), talks to an offline-defaults agent from the agent's page
in the admin UI served by a real `vocals serve`; the Playwright suite in `ui/e2e-web-call/`
checks the page, this test the call record it left. The suite in `ui/e2e-web-call-faults/`
checks the plain messages for a browser with no microphone and for a connection cut mid-call
(the server is reached through a TCP proxy the test cuts, as a network outage would)."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from store.db import create_pool
from store.repositories.config import UserRepository
from store.repositories.tenants import TenantsRepository
from store.secrets import hash_password
from tests.conftest import REPO_ROOT
from tests.exposure.process import VocalsProcess, vocals_serve
from tests.store.tcp_proxy import TcpProxy
from tests.web_calls.browser import page_call
from tests.web_calls.conftest import SITE, api_key
from tests.web_calls.test_web_call import phrases_16k
from vocals.demo import SYSTEM_PROMPT, WELCOME
from vocals.net import free_port

UI = REPO_ROOT / "ui"
ARTIFACTS = REPO_ROOT / "test-artifacts" / "web-call"
CHROMIUM = Path(os.environ.get("VOCALS_CHROMIUM", "/usr/bin/chromium"))
EMAIL = "owner@web.test"
PASSWORD = "correct-horse-battery"
RATE = 16000
# The WAV's timeline. The greeting (not interruptible) plays over the first silence; the
# question follows; the interruption comes while the answer ("We're open nine in the morning
# ...", about 6 s) is being spoken; then silence for the rest of the suite (Chromium loops the
# file, so it must outlast the call).
BEFORE_QUESTION_S = 8.0
BEFORE_INTERRUPTION_S = 4.0
AFTER_S = 120.0
SUITE_TIMEOUT_S = 420.0
GREETING_TIMEOUT_S = 60.0

pytestmark = pytest.mark.skipif(
    not (UI / "dist" / "index.html").is_file()
    or not CHROMIUM.exists()
    or shutil.which("npx") is None,
    reason="needs the UI build (npm --prefix ui run build), npx and Chromium at /usr/bin/chromium",
)


def _silence(seconds: float) -> bytes:
    return bytes(int(seconds * RATE) * 2)


async def caller_wav(path: Path) -> Path:
    """The synthesized caller asks for the opening hours, then interrupts the answer."""
    hours, _, _, location, *_ = await phrases_16k()
    pcm = b"".join(
        [
            _silence(BEFORE_QUESTION_S),
            hours,
            _silence(BEFORE_INTERRUPTION_S),
            location,
            _silence(AFTER_S),
        ]
    )
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(np.frombuffer(pcm, "<i2").tobytes())
    return path


@dataclass(frozen=True)
class Server:
    process: VocalsProcess
    proxy: TcpProxy
    headers: dict[str, str]
    agent_id: str

    @property
    def public_url(self) -> str:
        """Where browsers reach the server: through the proxy."""
        return f"http://127.0.0.1:{self.proxy.port}"


@pytest.fixture(scope="module")
async def server(
    database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Server]:
    """The server behind a TCP proxy (its public URL), an owner who signs in, and an agent on
    the offline defaults."""
    data = tmp_path_factory.mktemp("web-call-browser")
    port = free_port()
    proxy = TcpProxy("127.0.0.1", port)
    await proxy.start()
    public_url = f"http://127.0.0.1:{proxy.port}"
    try:
        async with vocals_serve(
            database_url, redis_url, data, port=port, public_url=public_url
        ) as process:
            pool = await create_pool(database_url, max_size=2)
            try:
                tenant = await TenantsRepository(pool).create(f"webui-{uuid.uuid4().hex[:8]}")
                await UserRepository(pool).create(
                    tenant.id,
                    {
                        "email": EMAIL,
                        "password_hash": await hash_password(PASSWORD),
                        "role": "owner",
                    },
                )
                headers = await api_key(pool, tenant.id, "admin")
            finally:
                await pool.close()
            agent: dict[str, Any] = {
                "name": "Riverside",
                "system_prompt": SYSTEM_PROMPT,
                "welcome_message": WELCOME,
                "welcome_interruptible": False,
                "barge_in_sensitivity": "high",
                "stt": {"vendor": "pocketsphinx"},
                "llm": {"vendor": "scripted"},
                "tts": {"vendor": "piper"},
                "recording_enabled": True,
            }
            async with httpx.AsyncClient(base_url=process.url, headers=headers) as client:
                created = (await client.post("/api/v1/agents", json=agent)).raise_for_status()
                agent_id = str(created.json()["id"])
                body = {"agent_id": agent_id, "allowed_origin": SITE}
                grant = (
                    (await client.post("/api/v1/web-calls", json=body)).raise_for_status().json()
                )
            await _hear_greeting(grant)
            yield Server(process, proxy, headers, agent_id)
    finally:
        await proxy.stop()


async def _hear_greeting(grant: dict[str, Any]) -> None:
    """A first call, from a site, until its greeting played: the voice is loaded and the
    greeting synthesized, as the server's prewarm does for agents that answer numbers (a cold
    voice on this shared machine can miss the TTS timeout, which is not what this test is about)."""
    async with page_call(grant["socket_url"], grant["token"], SITE) as call:
        await call.wait_for(
            lambda: call.of_type("transcript") or call.closed.is_set(), GREETING_TIMEOUT_S
        )
        await call.send_text(type="hangup")


async def _run_suite(server: Server, config: str, log: str, **env: str) -> None:
    """Run the Playwright suite of `config` against the server; its output goes to `log`."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    suite_env = {
        **os.environ,
        "VOCALS_E2E_URL": server.public_url,
        "VOCALS_E2E_EMAIL": EMAIL,
        "VOCALS_E2E_PASSWORD": PASSWORD,
        "VOCALS_E2E_AGENT_ID": server.agent_id,
        "VOCALS_E2E_ARTIFACTS": str(ARTIFACTS),
        "VOCALS_CHROMIUM": str(CHROMIUM),
        **env,
    }
    suite = await asyncio.create_subprocess_exec(
        "npx", "--no-install", "playwright", "test", "-c", config,
        cwd=UI, env=suite_env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        output, _ = await asyncio.wait_for(suite.communicate(), SUITE_TIMEOUT_S)
    except TimeoutError:
        suite.kill()
        await suite.wait()
        raise
    (ARTIFACTS / log).write_bytes(output)
    assert suite.returncode == 0, output.decode(errors="replace")[-6000:]


async def _finished_record(server: Server, call_id: str) -> dict[str, Any]:
    """The call's record once the call is over."""
    async with httpx.AsyncClient(base_url=server.process.url, headers=server.headers) as client:
        async with asyncio.timeout(30):
            while True:
                response = await client.get(f"/api/v1/calls/{call_id}")
                if response.status_code == 200 and not response.json().get("live"):
                    return dict(response.json())
                await asyncio.sleep(0.5)


async def test_an_admin_talks_to_an_agent_from_chromium_with_a_fake_microphone(
    server: Server, tmp_path: Path
) -> None:
    (ARTIFACTS / "web-call-id.txt").unlink(missing_ok=True)
    wav = await caller_wav(tmp_path / "caller.wav")
    await _run_suite(
        server, "playwright.web-call.config.ts", "playwright.log", VOCALS_E2E_FAKE_AUDIO=str(wav)
    )

    call_id = (ARTIFACTS / "web-call-id.txt").read_text().strip()
    record = await _finished_record(server, call_id)
    assert record["transport"] == "web"
    assert record["agent_id"] == server.agent_id
    assert record["status"] == "completed"
    callers = [t["text"] for t in record["transcript"] if t["role"] == "caller"]
    # The caller's words were stored; how well they were heard varies with Piper's random voicing
    # of the cached phrase ("your opening our spleen" for one), which is issue 17's concern.
    assert any("opening" in text.lower() for text in callers), callers
    assert any(t["role"] == "agent" and t.get("interrupted") for t in record["transcript"])
    assert record["recording_url"] is not None


async def test_no_microphone_and_a_lost_connection_each_get_a_plain_message(
    server: Server,
) -> None:
    (ARTIFACTS / "lost-call-id.txt").unlink(missing_ok=True)
    cuts: list[int] = []

    async def cut_on_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """The suite's signal that the call is live: cut the browser off the server."""
        await reader.readuntil(b"\r\n\r\n")
        server.proxy.cut()
        cuts.append(1)
        writer.write(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    control = await asyncio.start_server(cut_on_request, "127.0.0.1", 0)
    control_port = control.sockets[0].getsockname()[1]
    try:
        await _run_suite(
            server,
            "playwright.web-call-faults.config.ts",
            "playwright-faults.log",
            VOCALS_E2E_CUT_URL=f"http://127.0.0.1:{control_port}/cut",
        )
    finally:
        control.close()
        await control.wait_closed()
    assert cuts == [1]

    # The server saw the socket go and wrote the call's record.
    record = await _finished_record(server, (ARTIFACTS / "lost-call-id.txt").read_text().strip())
    assert record["transport"] == "web" and record["agent_id"] == server.agent_id
