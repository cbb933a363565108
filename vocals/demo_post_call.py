"""What the demo shows after its call: the post-call analysis the server made with the
offline scripted dialogue, and what the call cost (nothing: offline providers)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Final

from store.models import CallRecord
from store.repositories.calls import CallRepository
from vocals.admin import database
from vocals.settings import Settings

# The demo agent's analysis: what the scripted dialogue can extract (slots its flow captures)
# and criteria it will say it cannot judge.
DEMO_ANALYSIS: Final = {
    "enabled": True,
    "success_criteria": "The caller booked an appointment.",
    "schema": {
        "type": "object",
        "properties": {"day": {"type": "string"}, "part": {"type": "string"}},
    },
}
# The server's post-call worker looks for finished calls every second; a loaded machine is slow.
POST_CALL_TIMEOUT_S: Final = 30.0
_POLL_S: Final = 0.5


async def wait_for_post_call(
    settings: Settings, tenant_id: uuid.UUID, call_id: uuid.UUID
) -> CallRecord | None:
    """The call's record once the server priced (and analysed) it; None if it did not in time."""
    async with database(settings) as (pool, _):
        deadline = time.monotonic() + POST_CALL_TIMEOUT_S
        while time.monotonic() < deadline:
            record = await CallRepository(pool).get(tenant_id, call_id)
            if record is not None and record.cost is not None:
                return record
            await asyncio.sleep(_POLL_S)
    return None


def post_call_lines(record: CallRecord | None) -> list[str]:
    if record is None or record.cost is None:
        return ["The server did not price or analyse the call in time."]
    lines = []
    analysis = record.analysis
    if analysis is not None and analysis.get("status") == "done":
        lines.append(f"Post-call analysis ({analysis.get('vendor')}): {analysis.get('summary')}")
        if analysis.get("data") is not None:
            lines.append(f"Extracted data: {json.dumps(analysis['data'])}")
        if analysis.get("unavailable_reason"):
            lines.append(f"Success not evaluated: {analysis['unavailable_reason']}")
    elif analysis is not None:
        lines.append(f"Post-call analysis failed: {analysis.get('error')}")
    cost = record.cost
    offline = all(i.get("offline") for i in cost.get("items", []))
    lines.append(
        f"Call cost: {cost['total']:.4f} {cost['currency']}"
        + (" (offline providers cost nothing)" if offline else "")
    )
    return lines
