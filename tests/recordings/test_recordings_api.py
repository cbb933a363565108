"""`GET/DELETE /api/v1/calls/{id}/recording`: tenant-checked, range requests, audited delete."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from api.app import create_app
from api.context import ApiContext, ApiSettings
from api.routes.recordings import RECORDING_STORE_KEY
from ari_app.recording import LocalRecordingStore
from store.repositories.audit import AuditLogRepository
from store.repositories.calls import CallRepository
from store.repositories.config import ApiKeyRepository
from store.repositories.tenants import TenantsRepository
from store.secrets import SecretBox, generate_api_key
from tests.recordings.records import recorded_call

CONTENT = bytes(range(256)) * 40  # 10240 bytes, each offset recognisable


@pytest.fixture
async def client(
    tmp_path: Path, pg_pool: asyncpg.Pool, redis: Redis
) -> AsyncIterator[httpx.AsyncClient]:
    context = ApiContext(
        pool=pg_pool,
        redis=redis,
        box=SecretBox("recordings-tests-secret-key-0123456789"),
        settings=ApiSettings(ui_dist=None),
    )
    app = create_app(context)
    app.state[RECORDING_STORE_KEY] = LocalRecordingStore(tmp_path)
    transport = httpx.ASGITransport(app=cast(Any, app))
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as c:
        yield c


async def _tenant(pool: asyncpg.Pool, role: str = "admin") -> tuple[uuid.UUID, dict[str, str]]:
    tenant = await TenantsRepository(pool).create(f"rec-{uuid.uuid4().hex[:8]}")
    key = generate_api_key()
    await ApiKeyRepository(pool).create(
        tenant.id,
        {
            "name": "tests",
            "prefix": key.prefix,
            "key_hash": key.key_hash,
            "role": role,
            "rpm": 100_000,
            "rpd": 1_000_000,
        },
    )
    return tenant.id, {"Authorization": f"Bearer {key.key}"}


async def test_recording_streams_whole_and_by_range(
    client: httpx.AsyncClient, tmp_path: Path, pg_pool: asyncpg.Pool
) -> None:
    tenant_id, headers = await _tenant(pg_pool)
    call = await recorded_call(
        pg_pool, tmp_path, tenant_id, None, ended_at=datetime.now(UTC), content=CONTENT
    )
    url = f"/api/v1/calls/{call.id}/recording"

    whole = await client.get(url, headers=headers)
    assert whole.status_code == 200
    assert whole.content == CONTENT
    assert whole.headers["content-type"] == "audio/flac"
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-length"] == str(len(CONTENT))

    for header, start, end in (
        ("bytes=1000-1999", 1000, 1999),
        ("bytes=10000-", 10000, len(CONTENT) - 1),
        ("bytes=-100", len(CONTENT) - 100, len(CONTENT) - 1),
        ("bytes=10200-99999", 10200, len(CONTENT) - 1),
    ):
        part = await client.get(url, headers={**headers, "Range": header})
        assert part.status_code == 206, header
        assert part.content == CONTENT[start : end + 1], header
        assert part.headers["content-range"] == f"bytes {start}-{end}/{len(CONTENT)}"
        assert part.headers["content-length"] == str(end - start + 1)

    outside = await client.get(url, headers={**headers, "Range": "bytes=20000-"})
    assert outside.status_code == 416
    assert outside.headers["content-range"] == f"bytes */{len(CONTENT)}"


async def test_another_tenant_gets_404(
    client: httpx.AsyncClient, tmp_path: Path, pg_pool: asyncpg.Pool
) -> None:
    owner, _ = await _tenant(pg_pool)
    _, stranger = await _tenant(pg_pool)
    call = await recorded_call(pg_pool, tmp_path, owner, None, ended_at=datetime.now(UTC))
    url = f"/api/v1/calls/{call.id}/recording"
    assert (await client.get(url, headers=stranger)).status_code == 404
    assert (await client.delete(url, headers=stranger)).status_code == 404
    assert (tmp_path / str(call.recording_path)).exists()
    assert (await client.get(url)).status_code == 401


async def test_delete_removes_the_file_and_is_audited(
    client: httpx.AsyncClient, tmp_path: Path, pg_pool: asyncpg.Pool
) -> None:
    tenant_id, admin = await _tenant(pg_pool)
    call = await recorded_call(pg_pool, tmp_path, tenant_id, None, ended_at=datetime.now(UTC))
    url = f"/api/v1/calls/{call.id}/recording"
    path = tmp_path / str(call.recording_path)

    deleted = await client.delete(url, headers=admin)
    assert deleted.status_code == 204
    assert not path.exists()
    stored = await CallRepository(pg_pool).get(tenant_id, call.id)
    assert stored is not None and stored.recording_path is None
    [entry] = (
        await AuditLogRepository(pg_pool).list_page(tenant_id, filters={"entity_type": "recording"})
    ).items
    assert (entry.action, entry.entity_id) == ("delete", str(call.id))
    assert entry.before == {"recording_path": call.recording_path}
    assert (await client.get(url, headers=admin)).status_code == 404
    assert (await client.delete(url, headers=admin)).status_code == 404


async def test_viewer_may_listen_but_not_delete(
    client: httpx.AsyncClient, tmp_path: Path, pg_pool: asyncpg.Pool
) -> None:
    tenant_id, _ = await _tenant(pg_pool)
    key = generate_api_key()
    await ApiKeyRepository(pg_pool).create(
        tenant_id,
        {
            "name": "viewer",
            "prefix": key.prefix,
            "key_hash": key.key_hash,
            "role": "viewer",
            "rpm": 100_000,
            "rpd": 1_000_000,
        },
    )
    viewer = {"Authorization": f"Bearer {key.key}"}
    call = await recorded_call(
        pg_pool, tmp_path, tenant_id, None, ended_at=datetime.now(UTC), content=CONTENT
    )
    url = f"/api/v1/calls/{call.id}/recording"
    assert (await client.get(url, headers=viewer)).content == CONTENT
    assert (await client.delete(url, headers=viewer)).status_code == 403
    assert (tmp_path / str(call.recording_path)).exists()


async def test_a_missing_file_is_404_and_a_wav_is_served_as_wav(
    client: httpx.AsyncClient, tmp_path: Path, pg_pool: asyncpg.Pool
) -> None:
    tenant_id, headers = await _tenant(pg_pool)
    wav = await recorded_call(
        pg_pool, tmp_path, tenant_id, None, ended_at=datetime.now(UTC), suffix=".wav"
    )
    response = await client.get(f"/api/v1/calls/{wav.id}/recording", headers=headers)
    assert response.headers["content-type"] == "audio/wav"
    (tmp_path / str(wav.recording_path)).unlink()
    gone = await client.get(f"/api/v1/calls/{wav.id}/recording", headers=headers)
    assert gone.status_code == 404


async def test_without_a_recording_store_nothing_is_served(
    tmp_path: Path, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    context = ApiContext(
        pool=pg_pool,
        redis=redis,
        box=SecretBox("recordings-tests-secret-key-0123456789"),
        settings=ApiSettings(ui_dist=None),
    )
    transport = httpx.ASGITransport(app=cast(Any, create_app(context)))
    tenant_id, headers = await _tenant(pg_pool)
    call = await recorded_call(pg_pool, tmp_path, tenant_id, None, ended_at=datetime.now(UTC))
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as bare:
        response = await bare.get(f"/api/v1/calls/{call.id}/recording", headers=headers)
    assert response.status_code == 404
    assert "not available" in response.json()["detail"]
