"""No secret in any log line: a serving process is driven through every error path reachable
from outside (ARI refusing its password, the events WebSocket refused, ARI down, AMI refusing
its login, a provider answering 401, a trunk reload failing) with every logger at DEBUG, and
all it logged is searched for each configured secret."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from tests.fakes.ami import FakeAmi
from tests.fakes.asterisk import FakeAsterisk
from tests.fakes.deepgram_tts import FakeDeepgramTTS
from tests.fakes.elevenlabs_tts import FakeElevenLabsTTS
from tests.telephony.serving import SECRET_KEY, Serving, serve_settings, serving
from tests.telephony.test_ami import TRUNK
from vocals.net import free_port

ARI_PASSWORD = "ari-Secret-7f3e9b2c"
AMI_SECRET = "ami-Secret-5d1a8c4e"
TRUNK_PASSWORD = "trunk-Secret-9c2b7e1f"
PROVIDER_KEY = "provider-Secret-3e8f1a6d"
POLL_LIMIT_S = 10.0


class LogCapture:
    """Every structlog event and every stdlib record, as the text a log line would hold."""

    def __init__(self, events: list[Any], caplog: pytest.LogCaptureFixture) -> None:
        self._events = events
        self._caplog = caplog

    def text(self) -> str:
        records = [f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in self._caplog.records]
        return "\n".join([*map(repr, self._events), *records])

    async def wait_for(self, fragment: str) -> None:
        deadline = time.monotonic() + POLL_LIMIT_S
        while fragment not in self.text():
            if time.monotonic() > deadline:
                raise TimeoutError(f"never logged {fragment!r}")
            await asyncio.sleep(0.05)


@contextmanager
def all_logs(caplog: pytest.LogCaptureFixture) -> Iterator[LogCapture]:
    caplog.set_level(logging.DEBUG)
    with capture_logs() as events:
        yield LogCapture(events, caplog)


async def _provider_refusals(proc: Serving, base_urls: dict[str, str]) -> None:
    for vendor, base_url in base_urls.items():
        created = await proc.client.post(
            "/api/v1/providers",
            json={
                "name": f"{vendor}-bad-key",
                "kind": "tts",
                "vendor": vendor,
                "api_key": PROVIDER_KEY,
                "options": {"base_url": base_url, "max_attempts": 1},
            },
            headers=proc.headers,
        )
        assert created.status_code == 201, created.text
        refused = await proc.client.post(
            f"/api/v1/providers/{created.json()['id']}/test", headers=proc.headers
        )
        assert refused.status_code == 422, refused.text


async def test_no_secret_is_logged_on_any_error_path(
    database_url: str, redis_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    asterisk = FakeAsterisk(password="the-right-ari-password")
    ami = FakeAmi(secret="the-right-ami-secret")
    deepgram, elevenlabs = FakeDeepgramTTS(), FakeElevenLabsTTS()
    await asterisk.start()
    await ami.start()
    urls = {"deepgram": await deepgram.start(), "elevenlabs": await elevenlabs.start()}
    secrets = [ARI_PASSWORD, AMI_SECRET, TRUNK_PASSWORD, PROVIDER_KEY, SECRET_KEY]
    try:
        with all_logs(caplog) as logs:
            refused = serve_settings(
                database_url,
                redis_url,
                tmp_path / "refused",
                ari_url=asterisk.ari_url,
                ari_password=ARI_PASSWORD,
                ami_host="127.0.0.1",
                ami_port=ami.port,
                ami_password=AMI_SECRET,
                allow_private_urls=True,  # the fake vendors listen on loopback
            )
            async with serving(refused) as proc:
                await logs.wait_for("ari events connect failed")
                await logs.wait_for("ami not connected")
                created = await proc.client.post(
                    "/api/v1/sip-trunks",
                    json={**TRUNK, "password": TRUNK_PASSWORD},
                    headers=proc.headers,
                )
                assert created.status_code == 201, created.text
                await _provider_refusals(proc, urls)
                secrets.append(proc.headers["Authorization"].removeprefix("Bearer "))
            down = serve_settings(
                database_url,
                redis_url,
                tmp_path / "down",
                ari_url=f"http://127.0.0.1:{free_port()}/ari",
                ari_password=ARI_PASSWORD,
                ami_host="127.0.0.1",
                ami_port=free_port(),
                ami_password=AMI_SECRET,
            )
            async with serving(down):
                await logs.wait_for("Cannot connect to host")
            logged = logs.text()
    finally:
        await deepgram.stop()
        await elevenlabs.stop()
        await ami.stop()
        await asterisk.stop()
    assert "401" in logged and "AMI login refused" in logged  # the paths ran
    leaked = [secret for secret in secrets if secret in logged]
    assert leaked == [], [line for line in logged.splitlines() if any(s in line for s in leaked)]
