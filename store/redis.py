"""The Redis connection every process shares."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# A Redis round trip is sub-millisecond on a LAN; a second means Redis is down or overloaded.
SOCKET_TIMEOUT_S = 1.0
KEY_PREFIX = "vocals:"
# Every live call touches Redis a few times a second; hundreds of calls need hundreds of
# connections at peak. Past this, callers wait for a free one rather than fail.
MAX_CONNECTIONS = 1000
# How long a caller waits for a free connection before that one operation fails.
POOL_WAIT_S = 2.0
# A pooled connection Redis closed (it restarted, or dropped an idle client) fails the first
# command sent over it; sending that command once more, on a fresh connection, hides it.
RETRIES_ON_CONNECTION_ERROR = 1
# What a command raises while Redis is down or restarting (not: what it says about the data).
REDIS_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError)


def connect(url: str) -> Redis:
    """A client for `url` (decoded responses off: values are msgspec-encoded bytes), whose
    pool makes callers wait for a connection instead of failing when all are busy."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=POOL_WAIT_S,
        socket_timeout=SOCKET_TIMEOUT_S,
        socket_connect_timeout=SOCKET_TIMEOUT_S,
        retry=Retry(NoBackoff(), RETRIES_ON_CONNECTION_ERROR),
    )
    return Redis.from_pool(pool)
