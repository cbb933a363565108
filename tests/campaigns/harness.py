"""What the campaign tests share: a clock the test moves, a loadtest-provider agent, a
campaign with leads over the API, waiting for the runner, and the caps measured from the fake
Asterisk's own log of originations."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from tests.fakes.asterisk import Origination
from tests.telephony.serving import Serving

POLL_S = 0.05
# The fake stamps an origination when its HTTP request arrives; the dispatcher's slots are
# exact, the request's trip is not.
ARRIVAL_JITTER_S = 0.1

LOADTEST_AGENT: dict[str, Any] = {
    "system_prompt": "You remind people of their appointment.",
    "welcome_message": "Hello.",
    "welcome_interruptible": True,
    "stt": {"vendor": "loadtest"},
    "llm": {"vendor": "loadtest"},
    "tts": {"vendor": "loadtest", "options": {"ttfb_ms": 10, "seconds_per_sentence": 0.2}},
}


class ManualClock:
    """The runner's clock: stands still until the test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def create_agent(proc: Serving, **changes: Any) -> str:
    body = {**LOADTEST_AGENT, "name": f"agent-{uuid.uuid4().hex[:6]}", **changes}
    created = await proc.client.post("/api/v1/agents", json=body, headers=proc.headers)
    assert created.status_code == 201, created.text
    agent_id: str = created.json()["id"]
    return agent_id


async def open_attempts(pool: asyncpg.Pool, campaign_id: str) -> int:
    n = await pool.fetchval(
        "SELECT count(*) FROM campaign_attempts WHERE campaign_id = $1 AND disposition IS NULL",
        uuid.UUID(campaign_id),
    )
    return int(n)


async def next_due(pool: asyncpg.Pool, campaign_id: str) -> datetime | None:
    due: datetime | None = await pool.fetchval(
        "SELECT min(next_attempt_at) FROM campaign_leads WHERE campaign_id = $1 "
        "AND state = 'pending'",
        uuid.UUID(campaign_id),
    )
    if due is not None and due.tzinfo is None:  # '-infinity': due from the start
        return datetime.min.replace(tzinfo=UTC)
    return due


async def wait_idle(
    pool: asyncpg.Pool, campaign_id: str, clock: ManualClock, timeout_s: float
) -> None:
    """Until no attempt is out and no pending lead is due at the clock's time."""
    deadline = time.monotonic() + timeout_s
    while True:
        due = await next_due(pool, campaign_id)
        if await open_attempts(pool, campaign_id) == 0 and (due is None or due > clock.now):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"campaign never went idle (next due {due}, clock {clock.now})")
        await asyncio.sleep(POLL_S)


async def stored_status(proc: Serving, campaign_id: str) -> str:
    """The campaign's status as stored: for polling, which through the API would spend the
    key's request budget (a slow run then meets the rate limit, not the behaviour tested)."""
    value: str = await proc.runtime.pool.fetchval(
        "SELECT status FROM campaigns WHERE id = $1", uuid.UUID(campaign_id)
    )
    return value


async def status(proc: Serving, campaign_id: str) -> str:
    response = await proc.client.get(f"/api/v1/campaigns/{campaign_id}", headers=proc.headers)
    value: str = response.json()["status"]
    return value


def peak_concurrency(originations: list[Origination]) -> int:
    """The most outgoing channels up at once, from the fake's log."""
    edges = sorted(
        [(o.started, 1) for o in originations]
        + [(o.ended if o.ended is not None else float("inf"), -1) for o in originations],
        key=lambda e: (e[0], e[1]),
    )
    peak = live = 0
    for _, step in edges:
        live += step
        peak = max(peak, live)
    return peak


def tightest_second(originations: list[Origination], cps: int) -> float:
    """The shortest time any `cps + 1` consecutive originations took: at `cps` calls per
    second at most it is at least one second (less the arrival jitter)."""
    times = sorted(o.started for o in originations)
    spans = [times[i + cps] - times[i] for i in range(len(times) - cps)]
    return min(spans) if spans else float("inf")
