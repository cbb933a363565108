from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from ari_app.client import AriClient, AriSettings
from ari_app.events import AriEvent, UnknownEvent
from ari_app.listener import EventListener
from ari_app.tasks import Backoff
from tests.fakes.asterisk import FakeAsterisk


@pytest.fixture
async def fake() -> AsyncIterator[FakeAsterisk]:
    server = FakeAsterisk(time_scale=0.01)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def ari(fake: FakeAsterisk) -> AsyncIterator[AriClient]:
    client = AriClient(AriSettings(url=fake.ari_url, username="vocals", password="vocals"))
    yield client
    await client.close()


class Recorder:
    """Collects decoded events from a live `EventListener`."""

    def __init__(self) -> None:
        self.events: list[AriEvent | UnknownEvent] = []
        self._new = asyncio.Event()

    async def __call__(self, event: AriEvent | UnknownEvent) -> None:
        self.events.append(event)
        self._new.set()

    def types(self) -> list[str]:
        return [type(e).__name__ for e in self.events]

    async def wait_for(self, type_name: str, count: int = 1, timeout_s: float = 5.0) -> None:
        async with asyncio.timeout(timeout_s):
            while self.types().count(type_name) < count:
                self._new.clear()
                await self._new.wait()


@pytest.fixture
async def events(fake: FakeAsterisk) -> AsyncIterator[Recorder]:
    recorder = Recorder()
    listener = EventListener(
        AriSettings(url=fake.ari_url, username="vocals", password="vocals"),
        recorder,
        backoff=Backoff(initial_s=0.02, max_s=0.1),
    )
    listener.start()
    await listener.wait_connected(5)
    yield recorder
    await listener.stop()
