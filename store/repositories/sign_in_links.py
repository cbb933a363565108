"""Invitations and password resets: single-use, expiring links kept as their token's hash.

A link is presented before its tenant is known (the holder is not signed in), so spending one
looks it up by hash alone, as signing in looks a user up by e-mail; everything else is scoped by
tenant.
"""

from __future__ import annotations

import uuid

import asyncpg
import msgspec

from store.models import SignInLink, User
from store.repositories.base import Conflict, TenantRepository

INVITATION = "invitation"
PASSWORD_RESET = "password_reset"

# Spend a link in the statement that checks it: two requests cannot both use one.
_SPEND = (
    "UPDATE sign_in_links SET used_at = now() WHERE token_hash = $1 AND kind = $2 "
    "AND used_at IS NULL AND expires_at > now() RETURNING *"
)


class SsoRequired(Exception):
    """The invitation's tenant requires single sign-on: nothing was changed."""


class SignInLinkRepository(TenantRepository[SignInLink]):
    table = "sign_in_links"
    row_type = SignInLink
    writable = frozenset(
        {"kind", "email", "role", "user_id", "token_hash", "created_by", "expires_at"}
    )
    filterable = frozenset({"kind"})

    async def pending_invitations(self, tenant_id: uuid.UUID) -> list[SignInLink]:
        records = await self._pool.fetch(
            "SELECT * FROM sign_in_links WHERE tenant_id = $1 AND kind = $2 "
            "AND used_at IS NULL AND expires_at > now() ORDER BY created_at DESC, id",
            tenant_id,
            INVITATION,
        )
        return [row for row in map(self._row, records) if row is not None]

    async def revoke_invitation(
        self, tenant_id: uuid.UUID, link_id: uuid.UUID
    ) -> SignInLink | None:
        record = await self._pool.fetchrow(
            "DELETE FROM sign_in_links WHERE tenant_id = $1 AND id = $2 AND kind = $3 "
            "AND used_at IS NULL RETURNING *",
            tenant_id,
            link_id,
            INVITATION,
        )
        return self._row(record)

    async def accept_invitation(
        self, token_hash: str, password_hash: str
    ) -> tuple[SignInLink, User] | None:
        """Spend the invitation and create its user, together; None when the link is unknown,
        expired or used. `Conflict` (and the link stays unspent) when the e-mail has an
        account by now; `SsoRequired` (the same) when the tenant requires SSO by now."""
        async with self._pool.acquire() as conn, conn.transaction():
            link = self._row(await conn.fetchrow(_SPEND, token_hash, INVITATION))
            if link is None:
                return None
            if await conn.fetchval("SELECT require_sso FROM tenants WHERE id = $1", link.tenant_id):
                raise SsoRequired(link.tenant_id)
            try:
                record = await conn.fetchrow(
                    "INSERT INTO users (id, tenant_id, email, password_hash, role) "
                    "VALUES ($1, $2, $3, $4, $5) RETURNING *",
                    uuid.uuid4(),
                    link.tenant_id,
                    link.email,
                    password_hash,
                    link.role,
                )
            except asyncpg.UniqueViolationError as exc:
                raise Conflict("an account with this e-mail exists", exc.constraint_name) from exc
            assert record is not None
            return link, msgspec.convert(dict(record), User)

    async def reset_password(
        self, token_hash: str, password_hash: str
    ) -> tuple[SignInLink, User] | None:
        """Spend the reset link, set the password and spend the user's other reset links, in
        one transaction; None when the link is unknown, expired or used (or its user gone)."""
        async with self._pool.acquire() as conn, conn.transaction():
            link = self._row(await conn.fetchrow(_SPEND, token_hash, PASSWORD_RESET))
            if link is None:
                return None
            record = await conn.fetchrow(
                "UPDATE users SET password_hash = $3, updated_at = now() "
                "WHERE tenant_id = $1 AND id = $2 RETURNING *",
                link.tenant_id,
                link.user_id,
                password_hash,
            )
            if record is None:
                return None
            await conn.execute(
                "UPDATE sign_in_links SET used_at = now() WHERE tenant_id = $1 AND user_id = $2 "
                "AND kind = $3 AND used_at IS NULL",
                link.tenant_id,
                link.user_id,
                PASSWORD_RESET,
            )
            return link, msgspec.convert(dict(record), User)
