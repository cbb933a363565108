"""The audit log: append-only, secrets redacted before they get here."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from store.models import AuditLog
from store.repositories.base import TenantRepository

REDACTED = "****"
# Keys whose values never reach the audit log, whatever entity they belong to.
SECRET_KEYS = frozenset(
    {"api_key", "password", "password_hash", "secret", "key", "key_hash", "auth_token"}
)


def redact(values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A copy of `values` with every secret replaced, recursively."""
    if values is None:
        return None
    clean: dict[str, Any] = {}
    for key, value in values.items():
        if key in SECRET_KEYS and value is not None:
            clean[key] = REDACTED
        elif isinstance(value, Mapping):
            clean[key] = redact(value)
        else:
            clean[key] = value
    return clean


class AuditLogRepository(TenantRepository[AuditLog]):
    table = "audit_logs"
    generated_id = True
    row_type = AuditLog
    writable = frozenset({"actor", "action", "entity_type", "entity_id", "before", "after"})
    filterable = frozenset({"actor", "action", "entity_type", "entity_id"})

    async def record(
        self,
        tenant_id: uuid.UUID,
        *,
        actor: str,
        action: str,
        entity_type: str,
        entity_id: str | None,
        before: Mapping[str, Any] | None = None,
        after: Mapping[str, Any] | None = None,
    ) -> None:
        await self._pool.execute(
            "INSERT INTO audit_logs (tenant_id, actor, action, entity_type, entity_id, before, "
            "after) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            tenant_id,
            actor,
            action,
            entity_type,
            entity_id,
            redact(before),
            redact(after),
        )
