"""Analytics over call records: volume per day, durations, outcomes, latency and usage per
provider, for a date range and optionally one agent.

Latency comes from `calls.turns` (see ari_app/record_format.py): each turn's `latency` object
may carry `stt_final_ms`, `llm_first_token_ms`, `tts_first_audio_ms` and `total_ms` (stage
latencies in ms), and the turn names the vendor of each stage as `stt_vendor`, `llm_vendor`,
`tts_vendor`. Usage comes from `calls.provider_usage`: an object
keyed by provider (e.g. `"tts:piper"`) whose values hold numeric counters. Cost comes from
`calls.cost` (ari_app/post_call.py): its `total` and `items`, one per provider with `kind`,
`vendor` and `amount`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
from litestar import Router, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery

from api.auth import Principal, authenticate
from api.context import ApiContext
from api.errors import invalid, problems
from providers.pricing import AMOUNT_DIGITS, CURRENCY
from store.repositories.calls import CALL_BEGAN

# Dashboards look at the last month unless asked otherwise.
DEFAULT_RANGE = timedelta(days=30)
# A year of daily points is the most a chart shows; longer ranges are exports, not analytics.
MAX_RANGE = timedelta(days=366)
PERCENTILES = (0.5, 0.9, 0.95, 0.99)
# (stage name in the response, latency key in a turn, vendor key in a turn)
STAGES = (
    ("stt_final", "stt_final_ms", "stt_vendor"),
    ("llm_first_token", "llm_first_token_ms", "llm_vendor"),
    ("tts_first_audio", "tts_first_audio_ms", "tts_vendor"),
    ("turn_total", "total_ms", None),
)


class DayCount(msgspec.Struct):
    day: date
    calls: int
    completed: int


class Percentiles(msgspec.Struct, kw_only=True):
    count: int
    p50: float | None
    p90: float | None
    p95: float | None
    p99: float | None


class OutcomeCount(msgspec.Struct):
    outcome: str
    calls: int


class StatusCount(msgspec.Struct):
    """Calls that have no outcome (failed before an answer, still in progress), by status."""

    status: str
    calls: int


class StageLatency(msgspec.Struct, kw_only=True):
    """Latency percentiles (ms) of one pipeline stage for one vendor (`all` for turn totals)."""

    stage: str
    vendor: str
    latency_ms: Percentiles


class ProviderUsageTotal(msgspec.Struct, kw_only=True):
    provider: str
    calls: int
    totals: dict[str, float]


class AgentCost(msgspec.Struct, kw_only=True):
    agent_id: uuid.UUID | None
    calls: int
    total: float


class VendorCost(msgspec.Struct, kw_only=True):
    kind: str
    vendor: str
    calls: int
    total: float


class DayCost(msgspec.Struct, kw_only=True):
    day: date
    calls: int
    total: float


class CostSummary(msgspec.Struct, kw_only=True):
    """What the priced calls of the range cost (calls still waiting to be priced left out)."""

    currency: str
    total: float
    calls: int
    per_agent: list[AgentCost]
    per_vendor: list[VendorCost]
    per_day: list[DayCost]


class Analytics(msgspec.Struct, kw_only=True):
    since: datetime
    until: datetime
    agent_id: uuid.UUID | None
    calls_per_day: list[DayCount]
    duration_ms: Percentiles
    outcomes: list[OutcomeCount]
    without_outcome: list[StatusCount]
    latency: list[StageLatency]
    usage: list[ProviderUsageTotal]
    cost: CostSummary


def _percentiles(count: int, values: list[float] | None) -> Percentiles:
    p: list[float | None] = list(values) if values else [None] * len(PERCENTILES)
    return Percentiles(count=count, p50=p[0], p90=p[1], p95=p[2], p99=p[3])


def _utc(moment: datetime) -> datetime:
    """Naive datetimes are taken as UTC, like everything the API returns."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# Calls that began in the range: a record written days after its call counts on the call's day.
_SCOPE = (
    f"tenant_id = $1 AND {CALL_BEGAN} >= $2 AND {CALL_BEGAN} < $3 "
    "AND ($4::uuid IS NULL OR agent_id = $4)"
)


async def _latency(context: ApiContext, params: list[Any]) -> list[StageLatency]:
    result: list[StageLatency] = []
    for stage, key, vendor_key in STAGES:
        vendor_expr = f"coalesce(t->>'{vendor_key}', 'unknown')" if vendor_key else "'all'"
        records = await context.pool.fetch(
            f"SELECT {vendor_expr} AS vendor, count(*) AS n, "
            "percentile_cont($5::float8[]) WITHIN GROUP "
            f"(ORDER BY (t->'latency'->>'{key}')::float8) AS p "
            f"FROM calls, jsonb_array_elements(turns) AS t WHERE {_SCOPE} "
            "AND jsonb_typeof(t) = 'object' AND jsonb_typeof(t->'latency') = 'object' "
            f"AND jsonb_typeof(t->'latency'->'{key}') = 'number' "
            "GROUP BY 1 ORDER BY 1",
            *params,
            list(PERCENTILES),
        )
        result += [
            StageLatency(stage=stage, vendor=r["vendor"], latency_ms=_percentiles(r["n"], r["p"]))
            for r in records
        ]
    return result


async def _usage(context: ApiContext, params: list[Any]) -> list[ProviderUsageTotal]:
    records = await context.pool.fetch(
        "SELECT u.key AS provider, c.key AS counter, count(DISTINCT calls.id) AS calls, "
        "sum((c.value)::text::float8) AS total "
        "FROM calls, jsonb_each(provider_usage) AS u, "
        "jsonb_each(CASE WHEN jsonb_typeof(u.value) = 'object' THEN u.value ELSE '{}' END) AS c "
        f"WHERE {_SCOPE} AND jsonb_typeof(c.value) = 'number' "
        "GROUP BY 1, 2 ORDER BY 1, 2",
        *params,
    )
    by_provider: dict[str, ProviderUsageTotal] = {}
    for r in records:
        entry = by_provider.setdefault(
            r["provider"], ProviderUsageTotal(provider=r["provider"], calls=0, totals={})
        )
        entry.calls = max(entry.calls, int(r["calls"]))
        entry.totals[r["counter"]] = float(r["total"])
    return list(by_provider.values())


_TOTAL = "(cost->>'total')::float8"


async def _cost(context: ApiContext, params: list[Any]) -> CostSummary:
    priced = f"{_SCOPE} AND jsonb_typeof(cost->'total') = 'number'"
    agents = await context.pool.fetch(
        f"SELECT agent_id, count(*) AS n, sum({_TOTAL}) AS total FROM calls WHERE {priced} "
        "GROUP BY 1 ORDER BY 3 DESC, 1",
        *params,
    )
    days = await context.pool.fetch(
        f"SELECT ({CALL_BEGAN} AT TIME ZONE 'UTC')::date AS day, count(*) AS n, "
        f"sum({_TOTAL}) AS total FROM calls WHERE {priced} GROUP BY 1 ORDER BY 1",
        *params,
    )
    vendors = await context.pool.fetch(
        "SELECT i->>'kind' AS kind, i->>'vendor' AS vendor, count(DISTINCT calls.id) AS n, "
        "sum((i->>'amount')::float8) AS total "
        "FROM calls, jsonb_array_elements(CASE WHEN jsonb_typeof(cost->'items') = 'array' "
        "THEN cost->'items' ELSE '[]' END) AS i "
        f"WHERE {priced} AND jsonb_typeof(i->'amount') = 'number' "
        "GROUP BY 1, 2 ORDER BY 4 DESC, 1, 2",
        *params,
    )
    return CostSummary(
        currency=CURRENCY,
        total=round(sum(float(r["total"]) for r in agents), AMOUNT_DIGITS),
        calls=sum(int(r["n"]) for r in agents),
        per_agent=[
            AgentCost(agent_id=r["agent_id"], calls=r["n"], total=_amount(r["total"]))
            for r in agents
        ],
        per_vendor=[
            VendorCost(kind=r["kind"], vendor=r["vendor"], calls=r["n"], total=_amount(r["total"]))
            for r in vendors
        ],
        per_day=[DayCost(day=r["day"], calls=r["n"], total=_amount(r["total"])) for r in days],
    )


def _amount(value: object) -> float:
    return round(float(value), AMOUNT_DIGITS) if isinstance(value, int | float) else 0.0


@get("/", operation_id="getAnalytics", responses=problems(400, 401, 422, 429))
async def get_analytics(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    since: FromQuery[datetime | None] = None,
    until: FromQuery[datetime | None] = None,
    agent_id: FromQuery[uuid.UUID | None] = None,
) -> Analytics:
    """Figures for calls that began in [`since`, `until`) (default: the last 30 days)."""
    until = _utc(until) if until else datetime.now(UTC)
    since = _utc(since) if since else until - DEFAULT_RANGE
    if since >= until:
        raise invalid("since", "must be before until")
    if until - since > MAX_RANGE:
        raise invalid("since", f"the range must not exceed {MAX_RANGE.days} days")
    params: list[Any] = [principal.tenant_id, since, until, agent_id]
    days = await context.pool.fetch(
        f"SELECT ({CALL_BEGAN} AT TIME ZONE 'UTC')::date AS day, count(*) AS calls, "
        "count(*) FILTER (WHERE status = 'completed') AS completed "
        f"FROM calls WHERE {_SCOPE} GROUP BY 1 ORDER BY 1",
        *params,
    )
    duration = await context.pool.fetchrow(
        "SELECT count(duration_ms) AS n, "
        "percentile_cont($5::float8[]) WITHIN GROUP (ORDER BY duration_ms) AS p "
        f"FROM calls WHERE {_SCOPE} AND duration_ms IS NOT NULL",
        *params,
        list(PERCENTILES),
    )
    # Outcomes and statuses answer different questions; a status is never counted as an outcome.
    outcomes = await context.pool.fetch(
        "SELECT outcome, count(*) AS calls "
        f"FROM calls WHERE {_SCOPE} AND outcome IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1",
        *params,
    )
    without_outcome = await context.pool.fetch(
        "SELECT status, count(*) AS calls "
        f"FROM calls WHERE {_SCOPE} AND outcome IS NULL GROUP BY 1 ORDER BY 2 DESC, 1",
        *params,
    )
    assert duration is not None
    return Analytics(
        since=since,
        until=until,
        agent_id=agent_id,
        calls_per_day=[DayCount(r["day"], r["calls"], r["completed"]) for r in days],
        duration_ms=_percentiles(duration["n"], duration["p"]),
        outcomes=[OutcomeCount(r["outcome"], r["calls"]) for r in outcomes],
        without_outcome=[StatusCount(r["status"], r["calls"]) for r in without_outcome],
        latency=await _latency(context, params),
        usage=await _usage(context, params),
        cost=await _cost(context, params),
    )


router = Router(
    path="/analytics",
    route_handlers=[get_analytics],
    tags=["analytics"],
    security=[{"bearer": []}],
    dependencies={"principal": Provide(authenticate)},
)
