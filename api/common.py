"""Pieces every resource router shares: paging parameters, list envelopes, the audit helper."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar.datastructures import State
from litestar.params import Parameter

from api.auth import Principal
from api.context import ApiContext
from store.repositories.audit import AuditLogRepository
from store.repositories.base import MAX_PAGE_SIZE

Limit = Annotated[int, Parameter(ge=1, le=MAX_PAGE_SIZE, description="Page size.")]
Offset = Annotated[int, Parameter(ge=0, le=2**31 - 1, description="Rows to skip.")]
DEFAULT_LIMIT = 50
# Text filters longer than this are mistakes, not searches.
MAX_FILTER_CHARS = 200


def sort_param(columns: frozenset[str]) -> Any:
    """A `sort` query parameter limited to `columns`, each optionally prefixed with `-`."""
    allowed = sorted(columns | {f"-{c}" for c in columns})
    return Parameter(
        description=f"Column to sort by, `-` for descending: {', '.join(allowed)}.",
        pattern="^-?(" + "|".join(sorted(columns)) + ")$",
    )


def get_context(state: State) -> ApiContext:
    """Dependency: the process's `ApiContext`."""
    context: ApiContext = state.context
    return context


async def audit(
    context: ApiContext,
    principal: Principal,
    action: str,
    entity_type: str,
    entity_id: object,
    *,
    before: msgspec.Struct | dict[str, Any] | None = None,
    after: msgspec.Struct | dict[str, Any] | None = None,
) -> None:
    """Record a mutation; secrets in `before`/`after` are redacted by the repository."""
    await AuditLogRepository(context.pool).record(
        principal.tenant_id,
        actor=principal.actor,
        action=action,
        entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id),
        before=_plain(before),
        after=_plain(after),
    )


def _plain(value: msgspec.Struct | dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    plain = msgspec.to_builtins(value, str_keys=True)
    assert isinstance(plain, dict)
    return plain
