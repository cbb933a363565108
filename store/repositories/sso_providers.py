"""A tenant's OpenID Connect providers."""

from __future__ import annotations

import uuid

from store.models import SsoProvider
from store.repositories.base import TenantRepository


class SsoProviderRepository(TenantRepository[SsoProvider]):
    table = "sso_providers"
    row_type = SsoProvider
    writable = frozenset(
        {"name", "issuer", "client_id", "client_secret", "allowed_domains", "default_role"}
    )
    sortable = frozenset({"created_at", "name"})
    encrypted = frozenset({"client_secret"})

    async def find(self, provider_id: uuid.UUID) -> SsoProvider | None:
        """The provider a sign-in starts with, before its tenant is known (authentication)."""
        record = await self._pool.fetchrow(f"SELECT * FROM {self.table} WHERE id = $1", provider_id)
        return self._row(record)
