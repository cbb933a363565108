"""A callee's "stop calling me", as the built-in tool carries it out: their number goes on the
tenant's do-not-call list at once, and the audit log says which call asked."""

from __future__ import annotations

import asyncpg
import structlog

from ari_app.call import Call
from store.repositories.audit import AuditLogRepository
from store.repositories.do_not_call import DoNotCallRepository

log = structlog.get_logger(__name__)

REASON = "asked during a call not to be called again"


async def add_callee_to_list(pool: asyncpg.Pool, call: Call) -> None:
    """Put the outbound call's callee on its tenant's list (idempotent)."""
    number = call.to_number
    _, added = await DoNotCallRepository(pool).add(
        call.tenant_id, number, source="caller", reason=REASON, call_id=call.id
    )
    if added:
        await AuditLogRepository(pool).record(
            call.tenant_id,
            actor=f"call:{call.id}",
            action="add",
            entity_type="do_not_call",
            entity_id=number,
            after={"reason": REASON, "call_id": str(call.id)},
        )
    log.info("callee added to the do-not-call list", call_id=str(call.id), added=added)
