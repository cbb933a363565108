"""`vocals loadtest` against a real `vocals serve` over real sockets, a fresh database, and
the load-test providers; its figures are checked against independent measurements: the
server's own per-turn timings in the call records and its CPU time read from /proc."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import REPO_ROOT
from vocals.loadtest.agent import TENANT_NAME
from vocals.loadtest.probe import _cpu_seconds
from vocals.net import free_port

SERVER_START_S = 60.0
RUN_TIMEOUT_S = 240.0
CONFIGURED_MS = 1240  # the defaults: see test_measure.test_configured_latency_of_the_defaults


def server_env(database_url: str, redis_url: str) -> dict[str, str]:
    http, audiosocket, health, ari = free_port(), free_port(), free_port(), free_port()
    rtp = free_port(socket.SOCK_DGRAM) & ~1
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOCALS_")}
    env.update(
        VOCALS_DATABASE_URL=database_url,
        VOCALS_REDIS_URL=redis_url,
        VOCALS_HTTP_PORT=str(http),
        VOCALS_PUBLIC_URL=f"http://127.0.0.1:{http}",
        VOCALS_AUDIOSOCKET_PORT=str(audiosocket),
        VOCALS_AUDIOSOCKET_HEALTH_PORT=str(health),
        VOCALS_RTP_PORTS=f"{max(rtp, 20000)}-{max(rtp, 20000) + 200}",
        VOCALS_ARI_URL=f"http://127.0.0.1:{ari}/ari",
        VOCALS_ARI_USER="vocals",
        VOCALS_ARI_PASSWORD="loadtest-test-password",
        VOCALS_DATA_DIR=str(REPO_ROOT / ".vocals" / "test"),
        VOCALS_SECRET_KEY="loadtest-test-secret-key-0123456789abcdef",
        VOCALS_LOADTEST_PROVIDERS="1",
        VOCALS_LOG_LEVEL="warning",
        VOCALS_LOG_FORMAT="console",
    )
    return env


@pytest.fixture
def server(
    request: pytest.FixtureRequest, database_url: str, redis_url: str
) -> Iterator[tuple[dict[str, str], int, str]]:
    transport: str = request.param
    env = server_env(database_url, redis_url)
    env["VOCALS_MEDIA_TRANSPORT"] = "rtp" if transport == "rtp" else "audiosocket"
    command = [sys.executable, "-m", "vocals", "serve"]
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        url = f"{env['VOCALS_PUBLIC_URL']}/healthz"
        deadline = time.monotonic() + SERVER_START_S
        while True:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        yield env, process.pid, transport
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_loadtest(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vocals", "loadtest", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )


async def turn_latencies(database_url: str) -> list[float]:
    """From the server's call records: end of speech -> first frame out, per answered turn."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT c.turns FROM calls c JOIN tenants t ON t.id = c.tenant_id WHERE t.name = $1",
            TENANT_NAME,
        )
    finally:
        await conn.close()
    latencies = []
    for row in rows:
        turns: list[dict[str, Any]] = json.loads(row["turns"])
        for turn in turns:
            if turn.get("end_of_speech_ms") is not None and turn.get("first_frame_out_ms"):
                latencies.append(float(turn["first_frame_out_ms"] - turn["end_of_speech_ms"]))
    return latencies


@pytest.mark.parametrize("server", ["audiosocket", "rtp", "twilio", "web"], indirect=True)
async def test_loadtest_five_calls_for_ten_seconds(
    server: tuple[dict[str, str], int, str], database_url: str
) -> None:
    env, pid, transport = server
    cpu_before = _cpu_seconds(pid)
    started = time.monotonic()
    done = await asyncio.to_thread(
        run_loadtest,
        env,
        "--calls", "5", "--seconds", "10", "--ramp", "2",
        "--transport", transport, "--barge-in-every", "2", "--json",
    )  # fmt: skip
    wall = time.monotonic() - started
    cpu_used = _cpu_seconds(pid) - cpu_before
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    (step,) = result["steps"]
    assert result["transport"] == transport and result["server_pid"] == pid
    assert step["calls"] == step["connected"] == 5
    assert step["errors"] == {}, step["errors"]
    assert step["turns"] >= 5 and step["barge_ins"] >= 1
    assert step["configured_response_ms"] == CONFIGURED_MS

    # Caller-side response latency = the server's own end-of-speech -> first frame out (its
    # pipeline clock, from the call records) + the VAD's tail after the caller's last frame
    # (webrtcvad hangover) + delivery; so it is larger, but not by much.
    server_side = sorted(await turn_latencies(database_url))
    assert server_side, "no answered turns recorded"
    server_p50 = server_side[len(server_side) // 2]
    assert abs(server_p50 - CONFIGURED_MS) <= 60, server_p50
    assert 0 <= step["response_p50_ms"] - server_p50 <= 350, (step["response_p50_ms"], server_p50)
    assert step["added_p50_ms"] == pytest.approx(step["response_p50_ms"] - CONFIGURED_MS)

    # Agent audio paced at 20 ms (at the phone: Asterisk passes frames on as they arrive,
    # Twilio plays its buffer at 20 ms).
    assert 15 <= step["gap_p50_ms"] <= 25
    assert step["barge_in_p50_ms"] < 600

    # CPU over the window cannot exceed what the process used over the whole run.
    assert step["server_cpu_percent"] is not None and step["server_rss_mb"] > 10
    window_cpu_s = step["server_cpu_percent"] / 100 * step["seconds"]
    assert window_cpu_s <= cpu_used + 0.5, (window_cpu_s, cpu_used, wall)


@pytest.mark.parametrize("server", ["audiosocket"], indirect=True)
async def test_loadtest_refuses_a_remote_target(
    server: tuple[dict[str, str], int, str],
) -> None:
    env, _, _ = server
    done = await asyncio.to_thread(
        run_loadtest, env, "--calls", "1", "--seconds", "1", "--url", "http://192.0.2.1:8000"
    )
    assert done.returncode == 1
    assert "--allow-remote" in done.stderr


@pytest.mark.parametrize("server", ["audiosocket"], indirect=True)
async def test_loadtest_with_the_offline_models(
    server: tuple[dict[str, str], int, str], database_url: str
) -> None:
    """The offline defaults answer recorded caller speech; the step reports who heard every
    reply, the server's event-loop lag from its /metrics and its children's CPU."""
    env, pid, _ = server
    done = await asyncio.to_thread(
        run_loadtest,
        env,
        "--providers", "offline", "--calls", "1", "--seconds", "6", "--ramp", "0",
        "--barge-in-every", "0", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    (step,) = result["steps"]
    assert result["providers"] == "offline" and result["server_pid"] == pid
    assert step["connected"] == step["heard_every_reply"] == 1, step["errors"]
    assert step["turns"] >= 1 and step["configured_response_ms"] == 500
    assert step["server_lag_max_ms"] is not None and step["server_lag_max_ms"] >= 0
    assert step["server_children_cpu_percent"] is not None
    conn = await asyncpg.connect(database_url)
    try:
        agent = await conn.fetchrow(
            "SELECT a.stt, a.tts FROM agents a JOIN tenants t ON t.id = a.tenant_id "
            "WHERE t.name = $1",
            TENANT_NAME,
        )
    finally:
        await conn.close()
    assert agent is not None
    assert json.loads(agent["stt"])["vendor"] == "faster-whisper"
    assert json.loads(agent["tts"])["vendor"] == "piper"
