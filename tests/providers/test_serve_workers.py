"""`vocals serve` starts its local model workers at start-up and leaves none behind, whether
it is stopped or killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO_ROOT
from vocals.net import free_port

pytestmark = pytest.mark.slow

START_S = 60.0
WORKERS = 2


def workers_of(parent: int) -> set[int]:
    """Live local-worker processes whose parent is `parent`, from /proc."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == parent and fields[0] != "Z" and b"providers.local.worker" in command:
            found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def until(condition: object, what: str, timeout: float = START_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


@pytest.fixture
def server(database_url: str, redis_url: str) -> Iterator[subprocess.Popen[bytes]]:
    http = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOCALS_")}
    env.update(
        VOCALS_DATABASE_URL=database_url,
        VOCALS_REDIS_URL=redis_url,
        VOCALS_HTTP_PORT=str(http),
        VOCALS_PUBLIC_URL=f"http://127.0.0.1:{http}",
        VOCALS_AUDIOSOCKET_PORT=str(free_port()),
        VOCALS_AUDIOSOCKET_HEALTH_PORT=str(free_port()),
        VOCALS_DATA_DIR=str(REPO_ROOT / ".vocals" / "test"),
        VOCALS_SECRET_KEY="serve-workers-test-secret-key-0123456789",
        VOCALS_LOCAL_WORKERS=str(WORKERS),
        VOCALS_LOG_LEVEL="warning",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "vocals", "serve"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def healthy() -> bool:
            assert process.poll() is None, "server exited"
            try:
                return httpx.get(f"http://127.0.0.1:{http}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        until(healthy, "server did not start")
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_serve_warms_its_workers_and_stops_them(server: subprocess.Popen[bytes]) -> None:
    until(lambda: len(workers_of(server.pid)) == WORKERS, "no warm workers")
    workers = workers_of(server.pid)
    server.send_signal(signal.SIGINT)
    server.wait(60)
    # Reaped before the server exited, not left to notice it.
    assert not [pid for pid in workers if alive(pid)]


def test_workers_of_a_killed_server_exit_by_themselves(server: subprocess.Popen[bytes]) -> None:
    until(lambda: len(workers_of(server.pid)) == WORKERS, "no warm workers")
    workers = workers_of(server.pid)
    server.kill()
    server.wait()
    # Orphans now: their stdin closed with the server, which is how they know to go.
    until(lambda: not [pid for pid in workers if alive(pid)], "workers outlived the server", 30)
