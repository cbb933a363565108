"""The asyncpg connection pool, with JSON codecs so jsonb columns read and write Python values."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec

# A pool sized for one process: API requests and call records are short queries.
POOL_MIN_SIZE = 1
POOL_MAX_SIZE = 10
# A query that takes longer than this is a bug or an outage; fail it rather than stall a call.
COMMAND_TIMEOUT_S = 10.0


def _encode_json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=_encode_json, decoder=msgspec.json.decode, schema="pg_catalog"
        )


async def create_pool(dsn: str, *, max_size: int = POOL_MAX_SIZE) -> asyncpg.Pool:
    """Open a pool to `dsn`; raises `OSError`/`asyncpg` errors when PostgreSQL is unreachable."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=POOL_MIN_SIZE,
        max_size=max_size,
        command_timeout=COMMAND_TIMEOUT_S,
        init=_init_connection,
    )
    return pool
