"""Webhooks: CRUD and validation, signed delivery to a local receiver, retries with backoff,
nothing lost across a worker restart, SSRF refusal."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import httpx
import msgspec
import pytest

from api.webhooks import emit
from api.webhooks.signing import verify
from api.webhooks.ssrf import pinned_request
from api.webhooks.worker import WebhookWorker
from store.repositories.webhooks import WebhookDeliveryRepository
from store.secrets import SecretBox
from tests.api.conftest import MakeTenant, TenantHandle
from tests.api.webhook_receiver import WebhookReceiver

SECRET = "whsec_test_secret_0123456789"


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    server = WebhookReceiver()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def private_tenant(make_tenant: MakeTenant) -> TenantHandle:
    return await make_tenant(private_webhooks=True)


async def _create_hook(
    client: httpx.AsyncClient, tenant: TenantHandle, url: str, events: list[str] | None = None
) -> dict[str, object]:
    response = await client.post(
        "/api/v1/webhooks",
        json={"url": url, "events": events or ["call.started", "call.ended"], "secret": SECRET},
        headers=tenant.admin,
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def _assert_signed(received: object) -> dict[str, object]:
    headers = received.headers  # type: ignore[attr-defined]
    body: bytes = received.body  # type: ignore[attr-defined]
    timestamp = int(headers["X-Vocals-Timestamp"])
    assert verify(SECRET, timestamp, body, headers["X-Vocals-Signature"])
    assert headers["X-Vocals-Signature"].startswith("v1=")
    assert not verify("another secret value", timestamp, body, headers["X-Vocals-Signature"])
    envelope: dict[str, object] = msgspec.json.decode(body)
    assert envelope["id"] == headers["X-Vocals-Event-Id"]
    return envelope


async def test_crud_and_validation(
    client: httpx.AsyncClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    created = await client.post(
        "/api/v1/webhooks",
        json={"url": "https://hooks.example.com/vocals", "events": ["call.ended"]},
        headers=tenant.admin,
    )
    assert created.status_code == 201, created.text
    hook = created.json()
    assert hook["signing_secret"].startswith("whsec_")
    assert hook["secret"] == "****" + hook["signing_secret"][-4:]
    fetched = await client.get(f"/api/v1/webhooks/{hook['id']}", headers=tenant.viewer)
    assert "signing_secret" not in fetched.json()
    assert hook["signing_secret"] not in fetched.text
    updated = await client.patch(
        f"/api/v1/webhooks/{hook['id']}",
        json={"events": ["call.failed", "voicemail.detected"], "active": False},
        headers=tenant.admin,
    )
    assert updated.json()["events"] == ["call.failed", "voicemail.detected"]
    assert updated.json()["active"] is False
    cases = [
        ({"url": "https://x.example", "events": ["call.exploded"]}, 400, "events[0]"),
        ({"url": "https://x.example", "events": []}, 400, "events"),
        ({"url": "ftp://x.example/hook", "events": ["call.ended"]}, 422, "url"),
        ({"url": "http://127.0.0.1:9/hook", "events": ["call.ended"]}, 422, "url"),
        ({"url": "http://[::1]/hook", "events": ["call.ended"]}, 422, "url"),
        ({"url": "http://169.254.169.254/latest", "events": ["call.ended"]}, 422, "url"),
        ({"url": "https://x.example", "events": ["call.ended"], "secret": "short"}, 400, "secret"),
    ]
    for body, status, field in cases:
        response = await client.post("/api/v1/webhooks", json=body, headers=tenant.admin)
        assert response.status_code == status, (body, response.text)
        assert field in [e["field"] for e in response.json()["errors"]], (body, response.json())
    viewer = await client.post(
        "/api/v1/webhooks",
        json={"url": "https://x.example", "events": ["call.ended"]},
        headers=tenant.viewer,
    )
    assert viewer.status_code == 403
    for method, path in (
        ("GET", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("POST", "/test"),
        ("GET", "/deliveries"),
    ):
        patch_body = {"active": True} if method == "PATCH" else None
        response = await client.request(
            method,
            f"/api/v1/webhooks/{hook['id']}{path}",
            headers=other_tenant.owner,
            json=patch_body,
        )
        assert response.status_code == 404, (method, path)
    deleted = await client.delete(f"/api/v1/webhooks/{hook['id']}", headers=tenant.admin)
    assert deleted.status_code == 204


async def test_test_button_delivers_a_signed_event(
    client: httpx.AsyncClient, private_tenant: TenantHandle, receiver: WebhookReceiver
) -> None:
    hook = await _create_hook(client, private_tenant, receiver.url)
    response = await client.post(
        f"/api/v1/webhooks/{hook['id']}/test", headers=private_tenant.admin
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "delivered"
    assert response.json()["last_status_code"] == 200
    envelope = _assert_signed(receiver.received[0])
    assert envelope["type"] == "webhook.test"
    deliveries = await client.get(
        f"/api/v1/webhooks/{hook['id']}/deliveries?status=delivered", headers=private_tenant.viewer
    )
    assert [d["event_type"] for d in deliveries.json()["items"]] == ["webhook.test"]


async def test_emitted_events_are_delivered_once_with_a_valid_signature(
    client: httpx.AsyncClient,
    private_tenant: TenantHandle,
    receiver: WebhookReceiver,
    pg_pool: asyncpg.Pool,
    box: SecretBox,
) -> None:
    hook = await _create_hook(client, private_tenant, receiver.url)
    event_id = uuid.uuid4()
    payload = {"call_id": str(uuid.uuid4()), "from": "+15550001111"}
    assert await emit(pg_pool, box, private_tenant.id, "call.started", payload, event_id) == 1
    assert await emit(pg_pool, box, private_tenant.id, "call.started", payload, event_id) == 0
    assert await emit(pg_pool, box, private_tenant.id, "call.failed", payload, uuid.uuid4()) == 0
    worker = WebhookWorker(pg_pool, box)
    try:
        await worker.run_once()
    finally:
        await worker.stop()
    assert len(receiver.received) == 1
    envelope = _assert_signed(receiver.received[0])
    assert envelope["type"] == "call.started"
    assert envelope["id"] == str(event_id)
    assert envelope["data"] == payload
    listed = await client.get(
        f"/api/v1/webhooks/{hook['id']}/deliveries", headers=private_tenant.viewer
    )
    assert listed.json()["items"][0]["status"] == "delivered"
    assert listed.json()["items"][0]["attempts"] == 1


async def test_a_500_is_retried_with_backoff(
    client: httpx.AsyncClient,
    private_tenant: TenantHandle,
    receiver: WebhookReceiver,
    pg_pool: asyncpg.Pool,
    box: SecretBox,
) -> None:
    hook = await _create_hook(client, private_tenant, receiver.url)
    receiver.statuses = [500, 503]
    event_id = uuid.uuid4()
    await emit(pg_pool, box, private_tenant.id, "call.ended", {"outcome": "agent_ended"}, event_id)
    worker = WebhookWorker(pg_pool, box, backoff_base_s=0.2, poll_interval_s=0.05)
    worker.start()
    try:
        for _ in range(200):
            if len(receiver.received) >= 3:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
    finally:
        await worker.stop()
    assert len(receiver.received) == 3
    for received in receiver.received:
        envelope = _assert_signed(received)
        assert envelope["id"] == str(event_id)
    page = await WebhookDeliveryRepository(pg_pool).list_page(
        private_tenant.id, filters={"webhook_id": uuid.UUID(str(hook["id"]))}
    )
    delivery = page.items[0]
    assert delivery.status == "delivered"
    assert delivery.attempts == 3
    assert delivery.last_status_code == 200


async def test_gives_up_after_max_attempts_and_on_a_4xx(
    client: httpx.AsyncClient,
    private_tenant: TenantHandle,
    receiver: WebhookReceiver,
    pg_pool: asyncpg.Pool,
    box: SecretBox,
) -> None:
    hook = await _create_hook(client, private_tenant, receiver.url)
    receiver.statuses = [410]
    await emit(pg_pool, box, private_tenant.id, "call.ended", {}, uuid.uuid4())
    worker = WebhookWorker(pg_pool, box, max_attempts=2)
    try:
        await worker.run_once()
    finally:
        await worker.stop()
    page = await WebhookDeliveryRepository(pg_pool).list_page(
        private_tenant.id, filters={"webhook_id": uuid.UUID(str(hook["id"]))}
    )
    assert page.items[0].status == "failed"
    assert page.items[0].last_status_code == 410
    assert len(receiver.received) == 1


async def test_nothing_is_lost_across_a_worker_restart(
    client: httpx.AsyncClient,
    private_tenant: TenantHandle,
    receiver: WebhookReceiver,
    pg_pool: asyncpg.Pool,
    box: SecretBox,
) -> None:
    hook = await _create_hook(client, private_tenant, receiver.url)
    receiver.delay_s = 5.0
    event_id = uuid.uuid4()
    await emit(pg_pool, box, private_tenant.id, "call.ended", {"n": 1}, event_id)
    first = WebhookWorker(pg_pool, box, lease_s=0.5, poll_interval_s=0.05)
    first.start()
    for _ in range(100):
        if receiver.received:
            break
        await asyncio.sleep(0.05)
    # The worker dies mid-delivery: its claim is in PostgreSQL, its attempt never finished.
    await first.stop()
    receiver.delay_s = 0.0
    page = await WebhookDeliveryRepository(pg_pool).list_page(
        private_tenant.id, filters={"webhook_id": uuid.UUID(str(hook["id"]))}
    )
    assert page.items[0].status == "pending"
    await asyncio.sleep(0.6)
    second = WebhookWorker(pg_pool, box)
    try:
        await second.run_once()
    finally:
        await second.stop()
    page = await WebhookDeliveryRepository(pg_pool).list_page(
        private_tenant.id, filters={"webhook_id": uuid.UUID(str(hook["id"]))}
    )
    assert page.items[0].status == "delivered"
    assert page.items[0].delivered_at is not None
    assert page.items[0].delivered_at <= datetime.now(UTC)
    assert all(_assert_signed(r)["id"] == str(event_id) for r in receiver.received)


async def test_private_destinations_are_refused_unless_the_tenant_allows_them(
    client: httpx.AsyncClient,
    make_tenant: MakeTenant,
    receiver: WebhookReceiver,
    pg_pool: asyncpg.Pool,
    box: SecretBox,
) -> None:
    public_only = await make_tenant()
    # A hostname passes creation (DNS can change); it is resolved and checked at delivery.
    url = receiver.url.replace("127.0.0.1", "localhost")
    hook = await _create_hook(client, public_only, url)
    await emit(pg_pool, box, public_only.id, "call.started", {}, uuid.uuid4())
    worker = WebhookWorker(pg_pool, box)
    try:
        await worker.run_once()
    finally:
        await worker.stop()
    assert receiver.received == []
    page = await WebhookDeliveryRepository(pg_pool).list_page(
        public_only.id, filters={"webhook_id": uuid.UUID(str(hook["id"]))}
    )
    assert page.items[0].status == "failed"
    assert "non-public address" in (page.items[0].last_error or "")


async def test_delivery_goes_to_the_checked_address_with_the_original_host(
    client: httpx.AsyncClient,
    private_tenant: TenantHandle,
    receiver: WebhookReceiver,
    pg_pool: asyncpg.Pool,
    box: SecretBox,
) -> None:
    url = receiver.url.replace("127.0.0.1", "localhost")
    await _create_hook(client, private_tenant, url)
    assert await emit(pg_pool, box, private_tenant.id, "call.started", {}, uuid.uuid4()) == 1
    worker = WebhookWorker(pg_pool, box)
    try:
        await worker.run_once()
    finally:
        await worker.stop()
    assert len(receiver.received) == 1
    assert receiver.received[0].headers["Host"] == url.split("/")[2]
    _assert_signed(receiver.received[0])


def test_pinned_request_keeps_host_and_tls_name() -> None:
    pinned = pinned_request("https://hooks.example.com:8443/in?x=1", "2001:db8::5")
    assert pinned.url == "https://[2001:db8::5]:8443/in?x=1"
    assert pinned.host_header == "hooks.example.com:8443"
    assert pinned.sni_hostname == "hooks.example.com"
    plain = pinned_request("http://hooks.example.com/in", "203.0.113.9")
    assert plain.url == "http://203.0.113.9/in"
    assert plain.host_header == "hooks.example.com"
