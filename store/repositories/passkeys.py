"""A user's WebAuthn passkeys. Every statement is scoped by tenant and user."""

from __future__ import annotations

import uuid

import asyncpg
import msgspec

from store.models import Passkey
from store.repositories.base import Conflict


class PasskeyRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def of_user(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> list[Passkey]:
        records = await self._pool.fetch(
            "SELECT * FROM passkeys WHERE tenant_id = $1 AND user_id = $2 ORDER BY created_at, id",
            tenant_id,
            user_id,
        )
        return [msgspec.convert(dict(r), Passkey) for r in records]

    async def users_with_passkeys(
        self, tenant_id: uuid.UUID, user_ids: list[uuid.UUID]
    ) -> set[uuid.UUID]:
        """Which of these users have at least one passkey."""
        records = await self._pool.fetch(
            "SELECT DISTINCT user_id FROM passkeys WHERE tenant_id = $1 AND user_id = ANY($2)",
            tenant_id,
            user_ids,
        )
        return {r["user_id"] for r in records}

    async def count(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> int:
        count = await self._pool.fetchval(
            "SELECT count(*) FROM passkeys WHERE tenant_id = $1 AND user_id = $2",
            tenant_id,
            user_id,
        )
        return int(count)

    async def add(
        self,
        tenant_id: uuid.UUID,
        user_id: uuid.UUID,
        *,
        name: str,
        credential_id: bytes,
        public_key: bytes,
        sign_count: int,
        transports: list[str],
    ) -> Passkey:
        try:
            record = await self._pool.fetchrow(
                "INSERT INTO passkeys (id, tenant_id, user_id, name, credential_id, public_key, "
                "sign_count, transports) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *",
                uuid.uuid4(),
                tenant_id,
                user_id,
                name,
                credential_id,
                public_key,
                sign_count,
                transports,
            )
        except asyncpg.UniqueViolationError as exc:
            raise Conflict("this passkey is registered already", exc.constraint_name) from exc
        assert record is not None
        return msgspec.convert(dict(record), Passkey)

    async def delete(
        self, tenant_id: uuid.UUID, user_id: uuid.UUID, passkey_id: uuid.UUID
    ) -> str | None:
        """The deleted passkey's name; None when the user has no such passkey."""
        name = await self._pool.fetchval(
            "DELETE FROM passkeys WHERE tenant_id = $1 AND user_id = $2 AND id = $3 RETURNING name",
            tenant_id,
            user_id,
            passkey_id,
        )
        return None if name is None else str(name)

    async def delete_all(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> int:
        """Remove every passkey of the user; how many there were."""
        result = await self._pool.execute(
            "DELETE FROM passkeys WHERE tenant_id = $1 AND user_id = $2", tenant_id, user_id
        )
        return int(result.rpartition(" ")[2])

    async def find(
        self, tenant_id: uuid.UUID, user_id: uuid.UUID, credential_id: bytes
    ) -> Passkey | None:
        record = await self._pool.fetchrow(
            "SELECT * FROM passkeys WHERE tenant_id = $1 AND user_id = $2 AND credential_id = $3",
            tenant_id,
            user_id,
            credential_id,
        )
        return None if record is None else msgspec.convert(dict(record), Passkey)

    async def find_any(self, credential_id: bytes) -> Passkey | None:
        """The passkey a browser signed with before anyone is known (signing in without a
        password); the credential id is unique across tenants."""
        record = await self._pool.fetchrow(
            "SELECT * FROM passkeys WHERE credential_id = $1", credential_id
        )
        return None if record is None else msgspec.convert(dict(record), Passkey)

    async def use(self, passkey: Passkey, new_sign_count: int) -> bool:
        """Record a sign-in with the counter the authenticator reported; False when another
        sign-in moved the counter meanwhile (the same assertion cannot count twice)."""
        result = await self._pool.execute(
            "UPDATE passkeys SET sign_count = $4, last_used_at = now() "
            "WHERE tenant_id = $1 AND id = $2 AND sign_count = $3",
            passkey.tenant_id,
            passkey.id,
            passkey.sign_count,
            new_sign_count,
        )
        return bool(result.endswith(" 1"))
