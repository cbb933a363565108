"""Shared fixtures for the provisioning tests: the one fake Asterisk with PJSIP reload
semantics, the real ARI client, and the AMI fake.

The repository root is put on sys.path so `provisioning` and `tests.fakes` import (the
pytest configuration has no `pythonpath` and `tests/` is not a package).
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

_REPO_ROOT = str(Path(__file__).resolve().parents[2])
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

from ari_app.client import AriClient, AriSettings  # noqa: E402
from provisioning.ami import AmiConnection  # noqa: E402
from tests.fakes.ami import FakeAmi  # noqa: E402
from tests.fakes.asterisk import FakeAsterisk  # noqa: E402
from tests.provisioning.pjsip_reload import PjsipReload  # noqa: E402


@pytest.fixture
def pjsip(tmp_path: Path) -> PjsipReload:
    return PjsipReload(config_dir=tmp_path)


@pytest.fixture
async def asterisk(pjsip: PjsipReload) -> AsyncIterator[FakeAsterisk]:
    fake = FakeAsterisk(endpoints=())
    fake.reload_hooks["res_pjsip.so"] = pjsip
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def ari(asterisk: FakeAsterisk) -> AsyncIterator[AriClient]:
    client = AriClient(AriSettings(url=asterisk.ari_url, username="vocals", password="vocals"))
    yield client
    await client.close()


@pytest.fixture
async def ami(pjsip: PjsipReload) -> AsyncIterator[FakeAmi]:
    server = FakeAmi()
    await server.start()
    pjsip.ami = server
    yield server
    await server.stop()


@pytest.fixture
async def ami_session(ami: FakeAmi) -> AsyncIterator[AmiConnection]:
    conn = AmiConnection("127.0.0.1", ami.username, ami.secret, port=ami.port)
    await conn.start()
    yield conn
    await conn.close()
