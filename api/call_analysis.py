"""A call's post-call analysis and cost as the API shows them (ari_app/post_call.py writes
them to `calls.analysis` and `calls.cost`)."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from providers.pricing import CallCost
from store.models import CallRecord


class CallAnalysisOut(msgspec.Struct, kw_only=True):
    """What the analysing model found. `status` failed: `error` says why (the record is kept
    whatever the model did). `unavailable` lists the parts that model cannot do, with
    `unavailable_reason`; `data_error` says why `data` is empty when the agent has a schema."""

    status: Literal["done", "failed"]
    vendor: str
    model: str | None = None
    summary: str | None = None
    success: bool | None = None
    success_reason: str | None = None
    data: dict[str, Any] | None = None
    data_error: str | None = None
    unavailable: list[str] = msgspec.field(default_factory=list)
    unavailable_reason: str | None = None
    error: str | None = None
    attempts: int = 1


def analysis_out(row: CallRecord) -> CallAnalysisOut | None:
    if row.analysis is None:
        return None
    return msgspec.convert(row.analysis, CallAnalysisOut, strict=False)


def cost_out(row: CallRecord) -> CallCost | None:
    if row.cost is None:
        return None
    return msgspec.convert(row.cost, CallCost, strict=False)


def summary_extras(row: CallRecord) -> dict[str, Any]:
    """The list's `cost_total` and `success` of a call."""
    cost = row.cost or {}
    analysis = row.analysis or {}
    total = cost.get("total")
    success = analysis.get("success")
    return {
        "cost_total": float(total) if isinstance(total, int | float) else None,
        "success": success if isinstance(success, bool) else None,
    }
