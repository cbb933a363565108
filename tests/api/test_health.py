"""/healthz against real and unreachable PostgreSQL and Redis, /metrics, OpenAPI, the UI."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from redis.asyncio import Redis

from api.app import create_app
from api.context import ApiContext
from tests.api.conftest import TenantHandle, client_for, with_settings


def _closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_healthz_reports_postgres_redis_and_process_health(api_context: ApiContext) -> None:
    async def extra() -> dict[str, Any]:
        return {"audiosocket": {"listening": True}, "ari": "connected"}

    app = create_app(ApiContext(**{**_fields(api_context), "extra_health": extra}))
    async with client_for(app) as client:
        response = await client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["postgres"] == {"ok": True}
    assert body["redis"] == {"ok": True}
    assert body["extra"]["ari"] == "connected"


def _fields(context: ApiContext) -> dict[str, Any]:
    return {name: getattr(context, name) for name in context.__dataclass_fields__}


async def test_healthz_is_503_when_postgres_is_down(api_context: ApiContext) -> None:
    dead_pool = await asyncpg.create_pool(
        f"postgresql://postgres@127.0.0.1:{_closed_port()}/postgres", min_size=0
    )
    app = create_app(ApiContext(**{**_fields(api_context), "pool": dead_pool}))
    try:
        async with client_for(app) as client:
            response = await client.get("/healthz")
    finally:
        await dead_pool.close()
    assert response.status_code == 503
    body = response.json()
    assert body["postgres"]["ok"] is False
    assert body["postgres"]["error"]
    assert body["redis"]["ok"] is True


async def test_healthz_is_503_when_redis_is_down(api_context: ApiContext) -> None:
    dead_redis = Redis(host="127.0.0.1", port=_closed_port(), socket_connect_timeout=0.5)
    app = create_app(ApiContext(**{**_fields(api_context), "redis": dead_redis}))
    try:
        async with client_for(app) as client:
            response = await client.get("/healthz")
    finally:
        await dead_redis.aclose()
    assert response.status_code == 503
    assert response.json()["redis"]["ok"] is False
    assert response.json()["postgres"]["ok"] is True


async def test_metrics_exposes_prometheus_text(
    client: httpx.AsyncClient, tenant: TenantHandle
) -> None:
    await client.get(f"/api/v1/agents/{uuid.uuid4()}", headers=tenant.viewer)
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "python_info" in response.text
    requests = [
        line for line in response.text.splitlines() if line.startswith("vocals_api_requests_total{")
    ]
    assert any('path="/api/v1/agents/{agent_id}"' in line for line in requests), requests
    assert not any("/healthz" in line for line in requests)


async def test_openapi_names_operations_and_declares_problems(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    operations = [
        op for path in schema["paths"].values() for op in path.values() if isinstance(op, dict)
    ]
    assert all(op.get("operationId") for op in operations)
    create_agent = schema["paths"]["/api/v1/agents"]["post"]
    assert create_agent["operationId"] == "createAgent"
    problem = create_agent["responses"]["422"]["content"]["application/problem+json"]
    assert problem["schema"]["$ref"].endswith("/Problem")
    assert {"AgentCreate", "AgentOut", "Problem"} <= set(schema["components"]["schemas"])
    docs = await client.get("/api/v1/docs")
    assert docs.status_code == 200
    assert "swagger-ui" in docs.text


async def test_ui_build_served_with_deep_links_never_shadowing_the_api(
    api_context: ApiContext, tmp_path: Path
) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><div id=root></div>")
    (tmp_path / "assets" / "app.js").write_text("console.log('vocals')")
    app = create_app(with_settings(api_context, ui_dist=tmp_path))
    async with client_for(app) as client:
        root = await client.get("/")
        deep = await client.get(f"/calls/{'1' * 8}")
        asset = await client.get("/assets/app.js")
        missing_api = await client.get("/api/v1/no-such-thing")
        missing_api_item = await client.get("/api/v1/agents/not-an-id/more")
        twilio = await client.get("/twilio/voice")
        health = await client.get("/healthz")
        escape = await client.get("/..%2f..%2fetc/passwd")
    assert root.status_code == 200
    assert "id=root" in root.text
    assert deep.status_code == 200
    assert "id=root" in deep.text
    assert asset.text == "console.log('vocals')"
    assert missing_api.status_code == 404
    assert "id=root" not in missing_api.text
    assert missing_api_item.status_code == 404
    assert missing_api_item.headers["content-type"].startswith("application/problem+json")
    assert twilio.status_code == 404
    assert health.status_code == 200
    assert "root:" not in escape.text


async def test_openapi_security_matches_authentication(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/api/v1/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "security" not in schema["paths"]["/api/v1/auth/login"]["post"]
    assert schema["paths"]["/api/v1/auth/me"]["get"]["security"] == [{"bearer": []}]
    assert schema["paths"]["/api/v1/calls"]["post"]["security"] == [{"bearer": []}]


async def test_requests_during_an_outage_are_503_with_retry_after(
    api_context: ApiContext, tenant: TenantHandle
) -> None:
    dead_redis = Redis(host="127.0.0.1", port=_closed_port(), socket_connect_timeout=0.5)
    dead_pool = await asyncpg.create_pool(
        f"postgresql://postgres@127.0.0.1:{_closed_port()}/postgres", min_size=0
    )
    try:
        for broken in ({"redis": dead_redis}, {"pool": dead_pool}):
            app = create_app(ApiContext(**{**_fields(api_context), **broken}))
            async with client_for(app) as client:
                response = await client.get("/api/v1/agents", headers=tenant.key)
            assert response.status_code == 503, (broken, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            assert int(response.headers["Retry-After"]) > 0
    finally:
        await dead_redis.aclose()
        await dead_pool.close()
