"""Two-factor state of a user: the sealed TOTP secret, the last code step used, and the
recovery codes. Every statement is scoped by tenant and user."""

from __future__ import annotations

import uuid

import asyncpg

from store.models import User
from store.secrets import SecretBox

TOTP_PURPOSE = "users.totp_secret"


class TwoFactorRepository:
    def __init__(self, pool: asyncpg.Pool, box: SecretBox) -> None:
        self._pool = pool
        self._box = box

    def secret(self, user: User) -> str | None:
        """The user's TOTP secret in plain text, confirmed or not."""
        if user.totp_secret is None:
            return None
        return self._box.decrypt(user.totp_secret, TOTP_PURPOSE)

    async def start(self, tenant_id: uuid.UUID, user_id: uuid.UUID, secret: str) -> bool:
        """Keep a new, unconfirmed secret; False when the user already has two-factor on."""
        result = await self._pool.execute(
            "UPDATE users SET totp_secret = $3, totp_enabled_at = NULL, totp_last_step = NULL, "
            "updated_at = now() WHERE tenant_id = $1 AND id = $2 AND totp_enabled_at IS NULL",
            tenant_id,
            user_id,
            self._box.encrypt(secret, TOTP_PURPOSE),
        )
        return bool(result.endswith(" 1"))

    async def enable(
        self, tenant_id: uuid.UUID, user_id: uuid.UUID, step: int, code_hashes: list[str]
    ) -> bool:
        """Confirm the pending secret and replace the recovery codes, in one transaction;
        False when there was no pending secret (or it was confirmed meanwhile)."""
        async with self._pool.acquire() as conn, conn.transaction():
            result = await conn.execute(
                "UPDATE users SET totp_enabled_at = now(), totp_last_step = $3, "
                "updated_at = now() WHERE tenant_id = $1 AND id = $2 "
                "AND totp_secret IS NOT NULL AND totp_enabled_at IS NULL",
                tenant_id,
                user_id,
                step,
            )
            if not result.endswith(" 1"):
                return False
            await self._replace_codes(conn, tenant_id, user_id, code_hashes)
            return True

    async def disable(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        """Remove the secret and every recovery code; False when two-factor was not on."""
        async with self._pool.acquire() as conn, conn.transaction():
            result = await conn.execute(
                "UPDATE users SET totp_secret = NULL, totp_enabled_at = NULL, "
                "totp_last_step = NULL, updated_at = now() "
                "WHERE tenant_id = $1 AND id = $2 AND totp_enabled_at IS NOT NULL",
                tenant_id,
                user_id,
            )
            await self._replace_codes(conn, tenant_id, user_id, [])
            return bool(result.endswith(" 1"))

    async def replace_recovery_codes(
        self, tenant_id: uuid.UUID, user_id: uuid.UUID, code_hashes: list[str]
    ) -> bool:
        """Void every recovery code and keep these instead, in one transaction; False when
        two-factor is not on (then nothing changes)."""
        async with self._pool.acquire() as conn, conn.transaction():
            enabled = await conn.fetchval(
                "SELECT totp_enabled_at IS NOT NULL FROM users "
                "WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
                tenant_id,
                user_id,
            )
            if not enabled:
                return False
            await self._replace_codes(conn, tenant_id, user_id, code_hashes)
            return True

    async def give_first_recovery_codes(
        self, tenant_id: uuid.UUID, user_id: uuid.UUID, code_hashes: list[str]
    ) -> bool:
        """Keep these recovery codes when the user has none unused (a first passkey, no TOTP
        app); False, changing nothing, when they have some."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT 1 FROM users WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
                tenant_id,
                user_id,
            )
            left = await conn.fetchval(
                "SELECT count(*) FROM recovery_codes WHERE tenant_id = $1 AND user_id = $2 "
                "AND used_at IS NULL",
                tenant_id,
                user_id,
            )
            if left:
                return False
            await self._replace_codes(conn, tenant_id, user_id, code_hashes)
            return True

    async def use_step(self, tenant_id: uuid.UUID, user_id: uuid.UUID, step: int) -> bool:
        """Spend a code's time step; False when it (or a later one) was already used, so a
        code seen over someone's shoulder does not sign in a second time."""
        result = await self._pool.execute(
            "UPDATE users SET totp_last_step = $3 WHERE tenant_id = $1 AND id = $2 "
            "AND totp_enabled_at IS NOT NULL AND (totp_last_step IS NULL OR totp_last_step < $3)",
            tenant_id,
            user_id,
            step,
        )
        return bool(result.endswith(" 1"))

    async def use_recovery_code(
        self, tenant_id: uuid.UUID, user_id: uuid.UUID, code_hash: str
    ) -> bool:
        """Spend a recovery code; one statement, so two requests cannot both spend it."""
        result = await self._pool.execute(
            "UPDATE recovery_codes SET used_at = now() WHERE tenant_id = $1 AND user_id = $2 "
            "AND code_hash = $3 AND used_at IS NULL",
            tenant_id,
            user_id,
            code_hash,
        )
        return bool(result.endswith(" 1"))

    async def recovery_codes_left(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> int:
        count = await self._pool.fetchval(
            "SELECT count(*) FROM recovery_codes WHERE tenant_id = $1 AND user_id = $2 "
            "AND used_at IS NULL",
            tenant_id,
            user_id,
        )
        return int(count)

    @staticmethod
    async def _replace_codes(
        conn: asyncpg.pool.PoolConnectionProxy[asyncpg.Record],
        tenant_id: uuid.UUID,
        user_id: uuid.UUID,
        code_hashes: list[str],
    ) -> None:
        await conn.execute(
            "DELETE FROM recovery_codes WHERE tenant_id = $1 AND user_id = $2", tenant_id, user_id
        )
        await conn.executemany(
            "INSERT INTO recovery_codes (id, tenant_id, user_id, code_hash) "
            "VALUES ($1, $2, $3, $4)",
            [(uuid.uuid4(), tenant_id, user_id, h) for h in code_hashes],
        )
