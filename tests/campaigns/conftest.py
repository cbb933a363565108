"""The fake Asterisk of the campaign tests: rings and originate timeouts scaled 30 s -> 0.3 s."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.asterisk import FakeAsterisk


@pytest.fixture
async def asterisk() -> AsyncIterator[FakeAsterisk]:
    fake = FakeAsterisk(time_scale=0.01)
    await fake.start()
    yield fake
    await fake.stop()
