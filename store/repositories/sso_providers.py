"""A tenant's SSO providers (OpenID Connect, or GitHub's OAuth 2)."""

from __future__ import annotations

import uuid

from store.models import SsoProvider
from store.repositories.base import TenantRepository


class SsoProviderRepository(TenantRepository[SsoProvider]):
    table = "sso_providers"
    row_type = SsoProvider
    writable = frozenset(
        {
            "name",
            "issuer",
            "client_id",
            "client_secret",
            "allowed_domains",
            "default_role",
            "protocol",
        }
    )
    sortable = frozenset({"created_at", "name"})
    encrypted = frozenset({"client_secret"})

    async def find(self, provider_id: uuid.UUID) -> SsoProvider | None:
        """The provider a sign-in starts with, before its tenant is known (authentication)."""
        record = await self._pool.fetchrow(f"SELECT * FROM {self.table} WHERE id = $1", provider_id)
        return self._row(record)

    async def for_domain(self, domain: str) -> list[SsoProvider]:
        """Providers (of any tenant) that let this e-mail domain sign up: what the sign-in
        page offers for an e-mail address, before anyone is known."""
        records = await self._pool.fetch(
            f"SELECT * FROM {self.table} WHERE $1 = ANY(allowed_domains) ORDER BY name, id",
            domain,
        )
        return [row for row in map(self._row, records) if row is not None]

    async def for_tenant_name(self, name: str) -> list[SsoProvider]:
        """The providers of the tenant with this name (none when there is no such tenant)."""
        records = await self._pool.fetch(
            f"SELECT p.* FROM {self.table} p JOIN tenants t ON t.id = p.tenant_id "
            "WHERE t.name = $1 ORDER BY p.name, p.id",
            name,
        )
        return [row for row in map(self._row, records) if row is not None]

    async def delete_keeping_a_way_in(self, tenant_id: uuid.UUID, provider_id: uuid.UUID) -> bool:
        """Delete, unless it is the last provider of a tenant that requires SSO (its users
        would have no way to sign in); False when nothing was deleted."""
        result = await self._pool.execute(
            f"DELETE FROM {self.table} WHERE tenant_id = $1 AND id = $2 AND NOT ("
            "(SELECT require_sso FROM tenants WHERE id = $1) "
            f"AND (SELECT count(*) FROM {self.table} WHERE tenant_id = $1) = 1)",
            tenant_id,
            provider_id,
        )
        return bool(result.endswith(" 1"))
