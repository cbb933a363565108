from __future__ import annotations

from redis.asyncio import Redis

from store.rate_limits import RateLimiter

WINDOW = 60
START = 1_800_000_000.0  # a window boundary (divisible by 60)


async def test_the_limit_holds_inside_a_window(redis: Redis) -> None:
    await redis.flushdb()
    limiter = RateLimiter(redis)
    results = [await limiter.hit("k", 3, WINDOW, now=START + 10) for _ in range(4)]
    assert [r.allowed for r in results] == [True, True, True, False]
    assert 1 <= results[-1].retry_after_s <= WINDOW


async def test_a_window_edge_does_not_double_the_allowance(redis: Redis) -> None:
    await redis.flushdb()
    limiter = RateLimiter(redis)
    for _ in range(3):
        assert (await limiter.hit("edge", 3, WINDOW, now=START - 1)).allowed
    assert not (await limiter.hit("edge", 3, WINDOW, now=START + 1)).allowed
    assert (await limiter.hit("edge", 3, WINDOW, now=START + WINDOW - 1)).allowed


async def test_refused_hits_do_not_extend_the_lockout(redis: Redis) -> None:
    await redis.flushdb()
    limiter = RateLimiter(redis)
    assert (await limiter.hit("r", 1, WINDOW, now=START + 1)).allowed
    for _ in range(10):
        assert not (await limiter.hit("r", 1, WINDOW, now=START + 30)).allowed
    assert (await limiter.hit("r", 1, WINDOW, now=START + 2 * WINDOW + 1)).allowed
