"""`vocals serve` as an operator runs it: a real process on free loopback ports, over the test
run's PostgreSQL and Redis, without Asterisk."""

from __future__ import annotations

import asyncio
import os
import resource
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import REPO_ROOT
from vocals.net import free_port

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
_POLL_S = 0.1


@dataclass(frozen=True)
class VocalsProcess:
    pid: int
    port: int
    url: str

    def rss_bytes(self) -> int:
        """The process's resident memory, from /proc."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS line")

    def open_files_limit(self) -> tuple[int, int]:
        """The soft and hard RLIMIT_NOFILE the process runs with."""
        for line in Path(f"/proc/{self.pid}/limits").read_text().splitlines():
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
        raise RuntimeError("no open files line")


@asynccontextmanager
async def vocals_serve(
    database_url: str,
    redis_url: str,
    data_dir: Path,
    *,
    open_files: int | None = None,
    port: int | None = None,
    **settings: str,
) -> AsyncIterator[VocalsProcess]:
    """Run `vocals serve` with `settings` (`VOCALS_` variables without the prefix), started
    with a soft RLIMIT_NOFILE of `open_files` if given, on HTTP `port` (default: a free one),
    until the block ends; then SIGTERM."""
    port = port or free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VOCALS_")}
    env = {
        **clean,
        "VOCALS_DATABASE_URL": database_url,
        "VOCALS_REDIS_URL": redis_url,
        "VOCALS_SECRET_KEY": uuid.uuid4().hex + uuid.uuid4().hex,
        "VOCALS_HTTP_PORT": str(port),
        "VOCALS_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "VOCALS_DATA_DIR": str(data_dir),
        "VOCALS_RECORDINGS_DIR": str(data_dir / "recordings"),
        "VOCALS_ASTERISK_CONFIG_DIR": str(data_dir / "asterisk"),
        "VOCALS_LOG_FORMAT": "console",
        **{f"VOCALS_{k.upper()}": v for k, v in settings.items()},
    }
    log = (data_dir / "serve.log").open("wb")

    def limit_open_files() -> None:
        if open_files is not None:
            _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, hard))

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "vocals",
        "serve",
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=log,
        preexec_fn=limit_open_files,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await _wait_until_serving(url, process, data_dir)
        yield VocalsProcess(pid=process.pid, port=port, url=url)
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()


async def _wait_until_serving(
    url: str, process: asyncio.subprocess.Process, data_dir: Path
) -> None:
    async with httpx.AsyncClient(timeout=2) as client, asyncio.timeout(START_TIMEOUT_S):
        while True:
            if process.returncode is not None:
                log = (data_dir / "serve.log").read_text()[-2000:]
                raise RuntimeError(f"vocals serve exited with {process.returncode}:\n{log}")
            try:
                health = (await client.get(f"{url}/healthz")).json()
            except (httpx.TransportError, ValueError):
                health = {}
            # Loading the offline voice and recognizer is done: memory and CPU are settled.
            if health.get("extra", {}).get("greetings_ready"):
                return
            await asyncio.sleep(_POLL_S)
