"""A serving process takes no call before its local models are loaded: the Stasis app is not
registered, /healthz says it is warming; once they are, Asterisk's calls are answered. (Only
the answer is checked: a machine too busy to load the models within the pool's start timeout
takes calls anyway, and its first greeting may not come.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

import pytest

from providers.local import shared as local_models
from providers.local.pool import LocalPool
from store.repositories.config import InboundRouteRepository
from tests.api.conftest import OFFLINE_AGENT
from tests.fakes.asterisk import FakeAsterisk
from tests.telephony.serving import READY_S, serve_settings, serving

NUMBER: Final = "15550100321"
# Long enough for an unheld process to register its Stasis app many times over.
REGISTER_S: Final = 2.0


@pytest.fixture
async def asterisk() -> AsyncIterator[FakeAsterisk]:
    fake = FakeAsterisk()
    await fake.start()
    yield fake
    await fake.stop()


async def test_no_call_is_taken_until_the_local_models_are_loaded(
    asterisk: FakeAsterisk,
    database_url: str,
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loading = asyncio.Event()  # the workers start loading once the test lets them
    start = local_models.start

    async def held_start(size: int | None = None, cache_dir: Path | None = None) -> LocalPool:
        await loading.wait()
        return await start(size, cache_dir)

    monkeypatch.setattr(local_models, "start", held_start)
    settings = serve_settings(
        database_url, redis_url, tmp_path, ari_url=asterisk.ari_url, ari_password="vocals"
    )
    async with serving(settings, ready=False) as proc:
        created = await proc.client.post("/api/v1/agents", json=OFFLINE_AGENT, headers=proc.headers)
        assert created.status_code == 201, created.text
        await InboundRouteRepository(proc.runtime.pool).replace_for_agent(
            proc.tenant_id, created.json()["id"], [NUMBER]
        )
        health = (await proc.client.get("/healthz")).json()
        assert health["extra"]["readiness"] == "warming"
        assert health["extra"]["capacity"]["warming"] is True
        with pytest.raises(TimeoutError):
            await asterisk.wait_for_app("vocals", timeout_s=REGISTER_S)

        loading.set()
        await proc.wait_health("readiness", "ready", timeout_s=READY_S)
        await asterisk.wait_for_app("vocals", timeout_s=10)
        caller = await asterisk.inbound_call(NUMBER)
        await asyncio.wait_for(caller.answered.wait(), 10)
        await caller.hangup()
