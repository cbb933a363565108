"""Re-encrypting every stored secret under the current key (`vocals admin rotate-key`)."""

from __future__ import annotations

import asyncpg

from store.secrets import SecretBox
from store.tool_headers import rotated_tools

# Every encrypted column, as (table, column). Its purpose label is "table.column".
ENCRYPTED_COLUMNS = (
    ("provider_credentials", "api_key"),
    ("sip_trunks", "password"),
    ("webhooks", "secret"),
    ("twilio_accounts", "auth_token"),
)


async def rotate_secrets(pool: asyncpg.Pool, box: SecretBox) -> int:
    """Re-encrypt each secret not yet under `box`'s current key; returns how many changed.

    Runs across tenants (it is an operator's maintenance task), one transaction per table, so a
    failure leaves each table either fully old-key or fully new-key readable by `box`.
    """
    changed = 0
    for table, column in ENCRYPTED_COLUMNS:
        purpose = f"{table}.{column}"
        async with pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                f"SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL FOR UPDATE"
            )
            for row in rows:
                if not box.needs_rotation(row[column]):
                    continue
                await conn.execute(
                    f"UPDATE {table} SET {column} = $2 WHERE id = $1",
                    row["id"],
                    box.rotate(row[column], purpose),
                )
                changed += 1
    return changed + await _rotate_tool_headers(pool, box)


async def _rotate_tool_headers(pool: asyncpg.Pool, box: SecretBox) -> int:
    """The header values sealed inside agents' `tools` (see store/tool_headers.py)."""
    changed = 0
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            "SELECT id, tools FROM agents WHERE jsonb_path_exists(tools, '$[*].headers[*]') "
            "FOR UPDATE"
        )
        for row in rows:
            # The pool's codec hands jsonb over as Python values (store/db.py).
            tools, count = rotated_tools(box, row["tools"])
            if count:
                await conn.execute("UPDATE agents SET tools = $2 WHERE id = $1", row["id"], tools)
                changed += count
    return changed
