"""A call in progress as the API shows it: its detail built from the live state its controller
keeps in Redis, and a stream of that detail sent again on every change until the call ends."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from litestar.response import ServerSentEventMessage
from redis.asyncio import Redis

from store.live_calls import LiveCallStore, live_call_channel
from store.models import CallRecord

# What a live call that has been answered reports as its status (Twilio's word for it too).
IN_PROGRESS = "in-progress"
# An idle stream gets a comment this often, so proxies and browsers keep it open through a
# long silence on the call.
KEEPALIVE_S = 15.0
# A stream ends after this long even while the call goes on; the page opens a new one, so a
# forgotten tab does not hold a Redis connection (or a server's shutdown) for hours.
MAX_STREAM_S = 600.0


def _at(epoch: object) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if isinstance(epoch, int | float) else None


def live_fields(
    call_id: uuid.UUID,
    state: dict[str, Any],
    history: list[dict[str, Any]],
    record: CallRecord | None,
) -> dict[str, Any]:
    """The call-detail fields of a call in progress: who and when from its live state, the
    transcript and turns so far from its live history, the rest from its record if any."""
    times: dict[str, float] = state.get("status_times") or {}
    status = str(state.get("status", ""))
    answered = times.get("answered")
    entries = [{k: v for k, v in e.items() if k != "type"} for e in history]
    return {
        "id": call_id,
        "agent_id": state.get("agent_id") or (record.agent_id if record else None),
        "trunk_id": record.trunk_id if record else None,
        "direction": state.get("direction") or (record.direction if record else "inbound"),
        "transport": state.get("transport") or (record.transport if record else "asterisk"),
        "from_number": state.get("from_number") or (record.from_number if record else ""),
        "to_number": state.get("to_number") or (record.to_number if record else ""),
        "status": IN_PROGRESS if answered is not None else status,
        "live": True,
        "outcome": None,
        "queued_at": _at(times.get("queued")),
        "started_at": _at(min(times.values(), default=None)),
        "answered_at": _at(answered),
        "ended_at": None,
        "duration_ms": None if answered is None else int((time.time() - answered) * 1000),
        "error_reason": None,
        "created_at": record.created_at if record and record.created_at else _at(time.time()),
        "transcript": [
            e for h, e in zip(history, entries, strict=True) if h.get("type") == "transcript"
        ],
        "turns": [e for h, e in zip(history, entries, strict=True) if h.get("type") == "turn"],
        "events": record.events if record else [],
        "provider_usage": {},
        "variables": record.variables if record else {},
        "stt_events": [],
        "recording_url": None,
    }


async def is_live(redis: Redis, tenant_id: uuid.UUID, call_id: uuid.UUID) -> bool:
    """Whether the tenant's call is in progress somewhere in the deployment."""
    state = await LiveCallStore(redis).get(call_id)
    return state is not None and state.get("tenant_id") == str(tenant_id)


async def live_call_fields(
    redis: Redis, tenant_id: uuid.UUID, call_id: uuid.UUID, record: CallRecord | None
) -> dict[str, Any] | None:
    """`live_fields` of the tenant's call, or None when it is not in progress."""
    store = LiveCallStore(redis)
    state = await store.get(call_id)
    if state is None or state.get("tenant_id") != str(tenant_id):
        return None
    return live_fields(call_id, state, await store.history(call_id), record)


async def follow(
    redis: Redis, call_id: uuid.UUID, snapshot: Callable[[], Awaitable[bytes | None]]
) -> AsyncIterator[ServerSentEventMessage]:
    """`call` events carrying `snapshot()` now and after every change of the call's live
    state, then one `ended` event once it is None (the call ended; its record is written)."""
    deadline = time.monotonic() + MAX_STREAM_S
    async with redis.pubsub() as pubsub:
        # Subscribed before the first snapshot, so no change between the two goes unnoticed.
        await pubsub.subscribe(live_call_channel(call_id))
        changed = True
        while time.monotonic() < deadline:
            if changed:
                current = await snapshot()
                if current is None:
                    yield ServerSentEventMessage(event="ended", data="")
                    return
                yield ServerSentEventMessage(event="call", data=current.decode())
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=KEEPALIVE_S)
            changed = message is not None
            # Several changes that arrived together are one snapshot.
            while changed and await pubsub.get_message(ignore_subscribe_messages=True, timeout=0):
                pass
            if not changed:
                yield ServerSentEventMessage(comment="keep-alive")
