"""X-Forwarded-For is believed only from proxies the operator names: a client cannot dodge
the per-address sign-in limit by inventing addresses."""

from __future__ import annotations

from pathlib import Path

import httpx
from redis.asyncio import Redis

from tests.exposure.process import vocals_serve


async def forget_loopback_attempts(redis_url: str) -> None:
    """Earlier tests of the run signed in from 127.0.0.1 too, within the same window."""
    redis = Redis.from_url(redis_url)
    try:
        stale = [key async for key in redis.scan_iter(match="*rl:login:ip:127.0.0.1:*")]
        if stale:
            await redis.delete(*stale)
    finally:
        await redis.aclose()


async def test_a_forged_forwarded_for_does_not_reset_the_per_address_limit(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    limit = 3
    await forget_loopback_attempts(redis_url)
    async with (
        vocals_serve(database_url, redis_url, tmp_path, login_attempts_per_ip=str(limit)) as server,
        httpx.AsyncClient(base_url=server.url, timeout=10) as client,
    ):
        statuses = []
        for i in range(limit + 1):
            response = await client.post(
                "/api/v1/auth/login",
                json={"email": f"nobody-{i}@forged.example", "password": "guess"},
                headers={"X-Forwarded-For": f"198.51.100.{i % 250}"},
            )
            statuses.append(response.status_code)
    assert statuses[:limit] == [401] * limit
    assert statuses[limit] == 429
