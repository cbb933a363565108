"""The local model workers started by these tests are stopped when the run ends."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from providers.local import shared


@pytest.fixture(scope="session", autouse=True)
async def _stop_local_workers() -> AsyncIterator[None]:
    yield
    await shared.stop()
