"""Trunk status: ARI endpoint state (shared fake Asterisk, real client) plus AMI outbound
registration (AMI fake), over real sockets."""

from __future__ import annotations

import asyncio
import logging

import pytest
from structlog.testing import capture_logs

from ari_app.client import AriClient
from ari_app.errors import NotFound
from provisioning.ami import AmiConnection, AmiError
from provisioning.naming import object_names
from provisioning.status import trunk_status
from tests.fakes.ami import FakeAmi, FakeRegistration
from tests.fakes.asterisk import FakeAsterisk
from tests.provisioning.trunk_samples import IP_TRUNK, REGISTRATION_TRUNK

NOT_FOUND = (NotFound,)
REG_NAMES = object_names(REGISTRATION_TRUNK)


@pytest.fixture
def registered(ami: FakeAmi) -> FakeAmi:
    assert REGISTRATION_TRUNK.password is not None
    ami.registrations[REG_NAMES.registration] = FakeRegistration(
        status="Registered",
        server_uri="sip:sip.acme.example",
        client_uri="sip:123456@acme.example",
        endpoint=REG_NAMES.endpoint,
        auth=REG_NAMES.auth,
        username="123456",
        password=REGISTRATION_TRUNK.password,
    )
    return ami


async def test_registered_trunk_online(
    asterisk: FakeAsterisk,
    ari: AriClient,
    registered: FakeAmi,
    ami_session: AmiConnection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    asterisk.endpoints[REG_NAMES.endpoint] = "online"
    caplog.set_level(logging.DEBUG)
    with capture_logs() as logs:
        status = await trunk_status(REGISTRATION_TRUNK, ari, ami_session, not_found=NOT_FOUND)
    assert status.endpoint == REG_NAMES.endpoint
    assert (status.endpoint_state, status.active_channels) == ("online", 0)
    assert status.registration == "Registered"
    assert status.errors == ()
    # The AMI reply carries the password (AuthDetail); it must reach no log.
    assert REGISTRATION_TRUNK.password is not None
    assert REGISTRATION_TRUNK.password not in caplog.text + repr(logs)


async def test_ip_trunk_does_not_ask_ami(
    asterisk: FakeAsterisk, ari: AriClient, ami_session: AmiConnection, ami: FakeAmi
) -> None:
    asterisk.endpoints[object_names(IP_TRUNK).endpoint] = "offline"
    status = await trunk_status(IP_TRUNK, ari, ami_session, not_found=NOT_FOUND)
    assert (status.endpoint_state, status.registration) == ("offline", None)
    assert "pjsipshowregistrationsoutbound" not in ami.actions


async def test_unknown_endpoint_and_registration_are_absent(
    ari: AriClient, ami_session: AmiConnection
) -> None:
    status = await trunk_status(REGISTRATION_TRUNK, ari, ami_session, not_found=NOT_FOUND)
    assert (status.endpoint_state, status.registration) == ("absent", "absent")


async def test_rejected_registration_is_reported(
    asterisk: FakeAsterisk, ari: AriClient, registered: FakeAmi, ami_session: AmiConnection
) -> None:
    registered.registrations[REG_NAMES.registration].status = "Rejected"
    asterisk.endpoints[REG_NAMES.endpoint] = "offline"
    status = await trunk_status(REGISTRATION_TRUNK, ari, ami_session, not_found=NOT_FOUND)
    assert status.registration == "Rejected"


async def test_ami_down_still_reports_ari_state(
    asterisk: FakeAsterisk, ari: AriClient, ami_session: AmiConnection, ami: FakeAmi
) -> None:
    asterisk.endpoints[REG_NAMES.endpoint] = "online"
    await ami.stop()
    for _ in range(200):  # the lost connection is noticed on a later loop iteration
        if not ami_session.connected:
            break
        await asyncio.sleep(0.01)
    status = await trunk_status(REGISTRATION_TRUNK, ari, ami_session, not_found=NOT_FOUND)
    assert status.endpoint_state == "online"
    assert status.registration == "unavailable"
    assert len(status.errors) == 1 and status.errors[0].startswith("AMI: ")


async def test_ari_down_still_reports_registration(
    asterisk: FakeAsterisk, ari: AriClient, registered: FakeAmi, ami_session: AmiConnection
) -> None:
    await asterisk.stop()
    status = await trunk_status(REGISTRATION_TRUNK, ari, ami_session, not_found=NOT_FOUND)
    assert status.endpoint_state == "unavailable"
    assert status.registration == "Registered"
    assert status.errors[0].startswith("ARI: AriUnreachable")


async def test_login_refused(ami: FakeAmi) -> None:
    conn = AmiConnection("127.0.0.1", ami.username, "wrong", port=ami.port)
    with pytest.raises(AmiError, match="login refused"):
        await conn.start()
    await conn.close()
