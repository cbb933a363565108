from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from redis.asyncio import Redis

from tests.fakes.twilio import FakeTwilio
from tests.twilio.harness import TwilioProcess


@pytest.fixture
async def fake() -> AsyncIterator[FakeTwilio]:
    server = FakeTwilio()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def proc(
    fake: FakeTwilio, pg_pool: asyncpg.Pool, redis: Redis
) -> AsyncIterator[TwilioProcess]:
    process = TwilioProcess(
        fake, pg_pool, redis,
        stt_script=["I would like a table", "actually wait"],
        llm_replies=[
            "Of course, we have tables free tonight. We also have a terrace, a bar and a "
            "quiet room at the back, whichever you prefer.",
            "Sure, take your time.",
        ],
    )  # fmt: skip
    await process.start()
    yield process
    await process.stop()
