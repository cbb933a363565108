"""Telling Asterisk about changed trunks or inbound routes, through the process's hook."""

from __future__ import annotations

import uuid

import msgspec
import structlog

from api.context import ApiContext

log = structlog.get_logger(__name__)


class ReloadStatus(msgspec.Struct, kw_only=True):
    """How re-provisioning Asterisk went after this change (`ok` false: the reason says why)."""

    ok: bool
    outcome: str
    reason: str | None = None


async def reprovision(context: ApiContext, tenant_id: uuid.UUID) -> ReloadStatus | None:
    """Run `context.on_trunks_changed`; None when this process does not provision Asterisk.
    The change is already stored either way: a failure is reported, never raised."""
    if context.on_trunks_changed is None:
        return None
    try:
        result = await context.on_trunks_changed(tenant_id)
    except Exception as exc:  # the caller must learn Asterisk lags behind, not get a 500
        status = ReloadStatus(ok=False, outcome="failed", reason=f"{type(exc).__name__}: {exc}")
    else:
        status = ReloadStatus(ok=result.ok, outcome=result.outcome, reason=result.reason)
    if not status.ok:
        log.warning("reprovisioning failed", tenant_id=str(tenant_id), reason=status.reason)
    return status
