"""Rate limits in Redis, shared by every process: a sliding window estimated from the current
and the previous fixed window, so a burst cannot double its allowance across a window edge."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from redis.asyncio import Redis

from store.redis import KEY_PREFIX

# KEYS: this window's counter, the previous one's. ARGV: limit, window seconds, how much of the
# previous window still overlaps the sliding window (0..1). Refused hits are not counted, so a
# client retrying while limited does not extend its own lockout.
_HIT = """
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local weight = tonumber(ARGV[3])
if previous * weight + current + 1 > tonumber(ARGV[1]) then
  return {0, math.floor(previous * weight + current)}
end
current = redis.call('INCR', KEYS[1])
if current == 1 then redis.call('EXPIRE', KEYS[1], 2 * tonumber(ARGV[2])) end
return {1, math.floor(previous * weight + current)}
"""


@dataclass(frozen=True, slots=True)
class LimitResult:
    allowed: bool
    count: int
    limit: int
    retry_after_s: int


class RateLimiter:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._script = redis.register_script(_HIT)

    async def hit(
        self, name: str, limit: int, window_s: int, *, now: float | None = None
    ) -> LimitResult:
        """Count one event against `limit` per `window_s`; says whether it is allowed."""
        moment = time.time() if now is None else now
        window = int(moment // window_s)
        into_window = (moment - window * window_s) / window_s
        allowed, count = await self._script(
            keys=self._keys(name, window_s, window),
            args=[limit, window_s, 1.0 - into_window],
        )
        return LimitResult(
            allowed=bool(allowed),
            count=int(count),
            limit=limit,
            retry_after_s=max(1, math.ceil(window_s * (1.0 - into_window))),
        )

    async def reset(self, name: str, window_s: int, *, now: float | None = None) -> None:
        """Forget what was counted against `name` in the sliding window."""
        window = int((time.time() if now is None else now) // window_s)
        await self._redis.delete(*self._keys(name, window_s, window))

    @staticmethod
    def _keys(name: str, window_s: int, window: int) -> list[str]:
        key = f"{KEY_PREFIX}rl:{name}:{window_s}"
        return [f"{key}:{window}", f"{key}:{window - 1}"]
