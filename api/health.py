"""`/healthz` and `/metrics`: what an orchestrator and Prometheus look at."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import structlog
from litestar import Response, get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from api.context import ApiContext

log = structlog.get_logger(__name__)

# A health probe must answer before the orchestrator's own timeout (typically 1-5 s).
CHECK_TIMEOUT_S = 2.0


class DependencyHealth(msgspec.Struct, omit_defaults=True):
    ok: bool
    error: str | None = None


class Health(msgspec.Struct):
    """200 when PostgreSQL and Redis answer, 503 otherwise."""

    status: str
    postgres: DependencyHealth
    redis: DependencyHealth
    extra: dict[str, Any]


async def _check(probe: Any) -> DependencyHealth:
    try:
        await asyncio.wait_for(probe, CHECK_TIMEOUT_S)
    except Exception as exc:  # any failure means "down"; the reason is reported, not raised
        return DependencyHealth(ok=False, error=f"{type(exc).__name__}: {exc}"[:300])
    return DependencyHealth(ok=True)


@get(
    "/healthz",
    operation_id="getHealth",
    tags=["health"],
    responses={503: ResponseSpec(Health, description="PostgreSQL or Redis is down")},
)
async def healthz(state: State) -> Response[Health]:
    context: ApiContext = state.context
    postgres, redis = await asyncio.gather(
        _check(context.pool.fetchval("SELECT 1")), _check(context.redis.ping())
    )
    extra: dict[str, Any] = {}
    if context.extra_health is not None:
        try:
            extra = await asyncio.wait_for(context.extra_health(), CHECK_TIMEOUT_S)
        except Exception as exc:  # the process's own report failing is itself reported
            extra = {"error": f"{type(exc).__name__}: {exc}"}
    healthy = postgres.ok and redis.ok
    body = Health(
        status="ok" if healthy else "unavailable", postgres=postgres, redis=redis, extra=extra
    )
    if not healthy:
        log.warning("unhealthy", postgres=postgres.error, redis=redis.error)
    return Response(body, status_code=200 if healthy else 503)


@get("/metrics", operation_id="getMetrics", tags=["health"], include_in_schema=False)
async def metrics() -> Response[bytes]:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
