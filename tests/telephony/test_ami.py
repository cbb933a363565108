"""AMI in a serving process: logged in at start, used for trunk status, logged in again after
Asterisk comes back, closed at shutdown (fake AMI over a real socket)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from provisioning.models import Trunk
from provisioning.naming import object_names
from tests.fakes.ami import FakeAmi, FakeRegistration
from tests.fakes.asterisk import FakeAsterisk
from tests.telephony.serving import serve_settings, serving

TRUNK = {
    "name": "carrier",
    "kind": "registration",
    "host": "sip.carrier.example",
    "port": 5060,
    "transport": "udp",
    "username": "acct1001",
    "password": "s3cret-Pass",
    "from_user": "acct1001",
    "from_domain": "carrier.example",
    "codecs": ["ulaw"],
    "dtmf_mode": "rfc4733",
}


@pytest.fixture
async def asterisk() -> AsyncIterator[FakeAsterisk]:
    fake = FakeAsterisk()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def ami() -> AsyncIterator[FakeAmi]:
    fake = FakeAmi()
    await fake.start()
    yield fake
    await fake.stop()


async def test_serve_logs_in_to_ami_and_reports_registrations(
    asterisk: FakeAsterisk, ami: FakeAmi, database_url: str, redis_url: str, tmp_path: Path
) -> None:
    settings = serve_settings(
        database_url,
        redis_url,
        tmp_path,
        ari_url=asterisk.ari_url,
        ari_password=asterisk.password,
        ami_host="127.0.0.1",
        ami_port=ami.port,
        ami_password=ami.secret,
    )
    async with serving(settings) as proc:
        await proc.wait_health("ami", "connected")
        assert ami.actions[:1] == ["login"] and ami.sessions == 1
        created = await proc.client.post("/api/v1/sip-trunks", json=TRUNK, headers=proc.headers)
        assert created.status_code == 201, created.text
        trunk_id = created.json()["id"]
        names = object_names(
            Trunk(id=trunk_id, tenant_id="", name="carrier", kind="registration", host="h")
        )
        ami.registrations[names.registration] = FakeRegistration(
            status="Registered",
            server_uri="sip:sip.carrier.example",
            client_uri="sip:acct1001@sip.carrier.example",
            endpoint=names.endpoint,
            auth=names.auth,
            username="acct1001",
            password="s3cret-Pass",
        )
        status_url = f"/api/v1/sip-trunks/{trunk_id}/status"
        status = await proc.client.get(status_url, headers=proc.headers)
        assert status.json()["registration"] == "Registered", status.text

        await ami.stop()  # Asterisk restarts: the session is lost, then AMI is back
        await proc.wait_health("ami", "reconnecting")
        down = await proc.client.get(status_url, headers=proc.headers)
        assert down.json()["registration"] == "unavailable"
        logins = ami.actions.count("login")
        await ami.start()
        await proc.wait_health("ami", "connected")
        assert ami.actions.count("login") > logins and ami.sessions == 1
        back = await proc.client.get(status_url, headers=proc.headers)
        assert back.json()["registration"] == "Registered", back.text
    assert ami.sessions == 0  # closed at shutdown
