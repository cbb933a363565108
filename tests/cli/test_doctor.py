"""`vocals doctor` against a fake Asterisk (ARI and AMI) and an AudioSocket listener on real
sockets: each Asterisk-side problem is one FAIL line saying how to fix it."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator

import msgspec
import pytest

from media.audiosocket import AudioSocketLeg, AudioSocketServer
from tests.conftest import REPO_ROOT
from tests.fakes.ami import FakeAmi
from tests.fakes.asterisk import FakeAsterisk
from vocals.doctor import _audiosocket
from vocals.net import free_port
from vocals.settings import Settings

DOCTOR_TIMEOUT_S = 60.0


async def doctor(env: dict[str, str]) -> tuple[int, dict[str, str]]:
    """Exit status and the line of each check, by its name."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VOCALS_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "vocals", "doctor",
        env={**clean, **env}, cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), DOCTOR_TIMEOUT_S)
    assert b"Traceback" not in out + err, (out + err).decode()
    lines = {}
    for line in out.decode().splitlines():
        status, _, rest = line.partition(" ")
        name, _, detail = rest.strip().partition(": ")
        lines[name] = f"{status} {detail}"
    assert proc.returncode is not None
    return proc.returncode, lines


@pytest.fixture
async def asterisk() -> AsyncIterator[tuple[FakeAsterisk, FakeAmi]]:
    ari, ami = FakeAsterisk(password="ari-pass"), FakeAmi(secret="ami-pass")
    await ari.start()
    await ami.start()
    yield ari, ami
    await ami.stop()
    await ari.stop()


async def test_doctor_checks_ari_path_ami_and_the_audiosocket_listener(
    asterisk: tuple[FakeAsterisk, FakeAmi], database_url: str, redis_url: str
) -> None:
    ari, ami = asterisk
    port, health = free_port(), free_port()
    env = {
        "VOCALS_DATABASE_URL": database_url,
        "VOCALS_REDIS_URL": redis_url,
        "VOCALS_ARI_URL": f"http://127.0.0.1:{ari.port}",
        "VOCALS_ARI_PASSWORD": "ari-pass",
        "VOCALS_AMI_HOST": "127.0.0.1",
        "VOCALS_AMI_PORT": str(ami.port),
        "VOCALS_AMI_PASSWORD": "wrong",
        "VOCALS_AUDIOSOCKET_PORT": str(port),
        "VOCALS_AUDIOSOCKET_HEALTH_PORT": str(health),
    }
    status, lines = await doctor(env)
    assert status == 1
    assert lines["ARI"] == (
        f"FAIL http://127.0.0.1:{ari.port}/asterisk/info answered HTTP 404: did you mean "
        f"VOCALS_ARI_URL=http://127.0.0.1:{ari.port}/ari ?"
    )
    assert lines["AMI"].startswith("FAIL") and "login refused" in lines["AMI"]
    assert lines["AudioSocket"].startswith(f"FAIL no listener at 127.0.0.1:{port}")

    async def ignore(call_id: uuid.UUID, leg: AudioSocketLeg) -> None:
        return None

    server = AudioSocketServer("127.0.0.1", port, ignore, health_port=health)
    await server.start()
    try:
        fixed = {**env, "VOCALS_ARI_URL": ari.ari_url, "VOCALS_AMI_PASSWORD": "ami-pass"}
        status, lines = await doctor(fixed)
    finally:
        await server.stop()
    assert lines["ARI"].startswith("ok"), lines["ARI"]
    assert lines["AMI"] == f"ok logged in as vocals at 127.0.0.1:{ami.port}"
    assert lines["AudioSocket"].startswith(f"ok listening at 127.0.0.1:{port}")


async def test_a_remote_asterisk_is_not_told_to_connect_to_loopback() -> None:
    # Decided from the settings alone (nothing is contacted): no subprocess needed.
    remote = Settings(ari_url="http://192.0.2.10:8088/ari", ari_password="x")
    check = await _audiosocket(remote)
    assert not check.ok and "set VOCALS_AUDIOSOCKET_ADVERTISE_HOST" in check.detail
    advertised = msgspec.structs.replace(remote, audiosocket_advertise_host="192.0.2.20")
    assert "ADVERTISE_HOST" not in (await _audiosocket(advertised)).detail
