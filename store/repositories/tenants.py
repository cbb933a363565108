"""Tenants themselves: the one table not scoped by a tenant id."""

from __future__ import annotations

import uuid

import asyncpg
import msgspec

from store.models import Tenant
from store.repositories.base import Conflict


class TenantsRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(self, name: str) -> Tenant:
        try:
            record = await self._pool.fetchrow(
                "INSERT INTO tenants (id, name) VALUES ($1, $2) RETURNING *", uuid.uuid4(), name
            )
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(f"tenant {name!r} already exists", exc.constraint_name) from exc
        assert record is not None
        return msgspec.convert(dict(record), Tenant)

    async def get(self, tenant_id: uuid.UUID) -> Tenant | None:
        record = await self._pool.fetchrow("SELECT * FROM tenants WHERE id = $1", tenant_id)
        return None if record is None else msgspec.convert(dict(record), Tenant)

    async def find_by_name(self, name: str) -> Tenant | None:
        record = await self._pool.fetchrow("SELECT * FROM tenants WHERE name = $1", name)
        return None if record is None else msgspec.convert(dict(record), Tenant)

    async def set_require_two_factor(self, tenant_id: uuid.UUID, required: bool) -> Tenant | None:
        record = await self._pool.fetchrow(
            "UPDATE tenants SET require_two_factor = $2, updated_at = now() WHERE id = $1 "
            "RETURNING *",
            tenant_id,
            required,
        )
        return None if record is None else msgspec.convert(dict(record), Tenant)

    async def set_require_sso(self, tenant_id: uuid.UUID, required: bool) -> Tenant | None:
        """Turning it on needs an SSO provider, checked in the same statement so a provider
        deleted meanwhile cannot leave the tenant with no way in; None when it has none."""
        record = await self._pool.fetchrow(
            "UPDATE tenants SET require_sso = $2, updated_at = now() WHERE id = $1 "
            "AND (NOT $2 OR EXISTS (SELECT 1 FROM sso_providers WHERE tenant_id = $1)) "
            "RETURNING *",
            tenant_id,
            required,
        )
        return None if record is None else msgspec.convert(dict(record), Tenant)
