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

from api.app import create_app
from api.context import ApiContext
from api.webhooks import emit
from api.webhooks.signing import verify
from api.webhooks.ssrf import pinned_request
from api.webhooks.worker import WebhookWorker, chains
from store.models import WebhookDelivery
from store.repositories.config import WebhookRepository
from store.repositories.webhooks import WebhookDeliveryRepository
from store.secrets import SecretBox
from tests.api.conftest import MakeTenant, TenantHandle, client_for, with_settings
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
    return await make_tenant()


@pytest.fixture(scope="module")
async def private_client(api_context: ApiContext) -> AsyncIterator[httpx.AsyncClient]:
    """The API of an operator who allows private destinations: the receiver is on loopback."""
    app = create_app(with_settings(api_context, allow_private_urls=True))
    async with client_for(app) as client:
        yield client


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
        # What the resolver reads as loopback, however it is spelled.
        ({"url": "http://localhost./hook", "events": ["call.ended"]}, 422, "url"),
        ({"url": "http://api.localhost/hook", "events": ["call.ended"]}, 422, "url"),
        ({"url": "http://127.1/hook", "events": ["call.ended"]}, 422, "url"),
        ({"url": "http://2130706433/hook", "events": ["call.ended"]}, 422, "url"),
        ({"url": "http://0x7f.1/hook", "events": ["call.ended"]}, 422, "url"),
        ({"url": "http://127.0.0.1./hook", "events": ["call.ended"]}, 422, "url"),
        ({"url": "http://[::ffff:127.0.0.1]/hook", "events": ["call.ended"]}, 422, "url"),
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
    private_client: httpx.AsyncClient, private_tenant: TenantHandle, receiver: WebhookReceiver
) -> None:
    hook = await _create_hook(private_client, private_tenant, receiver.url)
    response = await private_client.post(
        f"/api/v1/webhooks/{hook['id']}/test", headers=private_tenant.admin
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "delivered"
    assert response.json()["last_status_code"] == 200
    envelope = _assert_signed(receiver.received[0])
    assert envelope["type"] == "webhook.test"
    deliveries = await private_client.get(
        f"/api/v1/webhooks/{hook['id']}/deliveries?status=delivered", headers=private_tenant.viewer
    )
    assert [d["event_type"] for d in deliveries.json()["items"]] == ["webhook.test"]


async def test_each_delivery_lists_the_url_it_went_to_after_the_url_changes(
    private_client: httpx.AsyncClient, private_tenant: TenantHandle, receiver: WebhookReceiver
) -> None:
    moved = WebhookReceiver()
    await moved.start()
    try:
        hook = await _create_hook(private_client, private_tenant, receiver.url)
        test = f"/api/v1/webhooks/{hook['id']}/test"
        first = await private_client.post(test, headers=private_tenant.admin)
        changed = await private_client.patch(
            f"/api/v1/webhooks/{hook['id']}", json={"url": moved.url}, headers=private_tenant.admin
        )
        assert changed.status_code == 200, changed.text
        second = await private_client.post(test, headers=private_tenant.admin)
    finally:
        await moved.stop()
    assert (first.json()["last_url"], second.json()["last_url"]) == (receiver.url, moved.url)
    listed = await private_client.get(
        f"/api/v1/webhooks/{hook['id']}/deliveries", headers=private_tenant.viewer
    )
    urls = {d["id"]: d["last_url"] for d in listed.json()["items"]}
    assert urls == {first.json()["id"]: receiver.url, second.json()["id"]: moved.url}


async def test_emitted_events_are_delivered_once_with_a_valid_signature(
    private_client: httpx.AsyncClient,
    private_tenant: TenantHandle,
    receiver: WebhookReceiver,
    pg_pool: asyncpg.Pool,
    box: SecretBox,
) -> None:
    hook = await _create_hook(private_client, private_tenant, receiver.url)
    event_id = uuid.uuid4()
    payload = {"call_id": str(uuid.uuid4()), "from": "+15550001111"}
    assert await emit(pg_pool, box, private_tenant.id, "call.started", payload, event_id) == 1
    assert await emit(pg_pool, box, private_tenant.id, "call.started", payload, event_id) == 0
    assert await emit(pg_pool, box, private_tenant.id, "call.failed", payload, uuid.uuid4()) == 0
    worker = WebhookWorker(pg_pool, box, allow_private=True)
    try:
        await worker.run_once()
    finally:
        await worker.stop()
    assert len(receiver.received) == 1
    envelope = _assert_signed(receiver.received[0])
    assert envelope["type"] == "call.started"
    assert envelope["id"] == str(event_id)
    assert envelope["data"] == payload
    listed = await private_client.get(
        f"/api/v1/webhooks/{hook['id']}/deliveries", headers=private_tenant.viewer
    )
    assert listed.json()["items"][0]["status"] == "delivered"
    assert listed.json()["items"][0]["attempts"] == 1


async def test_a_500_is_retried_with_backoff(
    private_client: httpx.AsyncClient,
    private_tenant: TenantHandle,
    receiver: WebhookReceiver,
    pg_pool: asyncpg.Pool,
    box: SecretBox,
) -> None:
    hook = await _create_hook(private_client, private_tenant, receiver.url)
    receiver.statuses = [500, 503]
    event_id = uuid.uuid4()
    await emit(pg_pool, box, private_tenant.id, "call.ended", {"outcome": "agent_ended"}, event_id)
    worker = WebhookWorker(
        pg_pool, box, allow_private=True, backoff_base_s=0.2, poll_interval_s=0.05
    )
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
    private_client: httpx.AsyncClient,
    private_tenant: TenantHandle,
    receiver: WebhookReceiver,
    pg_pool: asyncpg.Pool,
    box: SecretBox,
) -> None:
    hook = await _create_hook(private_client, private_tenant, receiver.url)
    receiver.statuses = [410]
    await emit(pg_pool, box, private_tenant.id, "call.ended", {}, uuid.uuid4())
    worker = WebhookWorker(pg_pool, box, allow_private=True, max_attempts=2)
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
    private_client: httpx.AsyncClient,
    private_tenant: TenantHandle,
    receiver: WebhookReceiver,
    pg_pool: asyncpg.Pool,
    box: SecretBox,
) -> None:
    hook = await _create_hook(private_client, private_tenant, receiver.url)
    receiver.delay_s = 5.0
    event_id = uuid.uuid4()
    await emit(pg_pool, box, private_tenant.id, "call.ended", {"n": 1}, event_id)
    first = WebhookWorker(pg_pool, box, allow_private=True, lease_s=0.5, poll_interval_s=0.05)
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
    second = WebhookWorker(pg_pool, box, allow_private=True)
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


async def test_a_name_resolving_to_a_private_address_is_refused_at_delivery(
    private_client: httpx.AsyncClient,
    make_tenant: MakeTenant,
    receiver: WebhookReceiver,
    pg_pool: asyncpg.Pool,
    box: SecretBox,
) -> None:
    tenant = await make_tenant()
    # Saved while the operator allowed private destinations; no longer allowed at delivery.
    url = receiver.url.replace("127.0.0.1", "localhost")
    hook = await _create_hook(private_client, tenant, url)
    await emit(pg_pool, box, tenant.id, "call.started", {}, uuid.uuid4())
    worker = WebhookWorker(pg_pool, box)
    try:
        await worker.run_once()
    finally:
        await worker.stop()
    assert receiver.received == []
    page = await WebhookDeliveryRepository(pg_pool).list_page(
        tenant.id, filters={"webhook_id": uuid.UUID(str(hook["id"]))}
    )
    assert page.items[0].status == "failed"
    assert "non-public address" in (page.items[0].last_error or "")


async def test_delivery_goes_to_the_checked_address_with_the_original_host(
    private_client: httpx.AsyncClient,
    private_tenant: TenantHandle,
    receiver: WebhookReceiver,
    pg_pool: asyncpg.Pool,
    box: SecretBox,
) -> None:
    url = receiver.url.replace("127.0.0.1", "localhost")
    await _create_hook(private_client, private_tenant, url)
    assert await emit(pg_pool, box, private_tenant.id, "call.started", {}, uuid.uuid4()) == 1
    worker = WebhookWorker(pg_pool, box, allow_private=True)
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


CALL_EVENTS = ["call.started", "call.answered", "voicemail.detected", "call.ended"]


async def _emit_call(
    pool: asyncpg.Pool, box: SecretBox, tenant: TenantHandle, call_id: str, types: list[str]
) -> list[uuid.UUID]:
    """Emit a call's events in order, like `CallAnnouncer` does; returns their event ids."""
    ids = [uuid.uuid4() for _ in types]
    for sequence, (event_type, event_id) in enumerate(zip(types, ids, strict=True), start=1):
        payload = {"call_id": call_id, "sequence": sequence}
        assert await emit(pool, box, tenant.id, event_type, payload, event_id) == 1
    return ids


def _call_id(envelope: dict[str, object]) -> object:
    data = envelope["data"]
    return data.get("call_id") if isinstance(data, dict) else None


def _of_call(receiver: WebhookReceiver, call_id: str) -> list[dict[str, object]]:
    """The signed envelopes one call's events arrived in, attempts that failed included."""
    envelopes = [_assert_signed(r) for r in receiver.received]
    return [e for e in envelopes if _call_id(e) == call_id]


async def _deliveries_of(
    pool: asyncpg.Pool, tenant: TenantHandle, call_id: str
) -> list[WebhookDelivery]:
    page = await WebhookDeliveryRepository(pool).list_page(
        tenant.id, filters={"ordering_key": call_id}, limit=50
    )
    return sorted(page.items, key=lambda d: d.seq)


async def _run_until_idle(worker: WebhookWorker) -> None:
    for _ in range(50):
        if await worker.run_once() == 0:
            return
    raise AssertionError("the worker never ran out of due deliveries")


async def test_a_retried_call_started_is_not_overtaken_by_the_rest_of_the_call(
    private_client: httpx.AsyncClient,
    private_tenant: TenantHandle,
    receiver: WebhookReceiver,
    pg_pool: asyncpg.Pool,
    box: SecretBox,
) -> None:
    await _create_hook(private_client, private_tenant, receiver.url, CALL_EVENTS)
    receiver.statuses = [500]  # the first attempt, which can only be call.started's
    call_id = str(uuid.uuid4())
    types = ["call.started", "call.answered", "call.ended"]
    ids = await _emit_call(pg_pool, box, private_tenant, call_id, types)
    # One batch could hold all three; delivered concurrently they would race.
    worker = WebhookWorker(
        pg_pool, box, allow_private=True, backoff_base_s=0.1, poll_interval_s=0.02
    )
    worker.start()
    try:
        for _ in range(200):
            if len(_of_call(receiver, call_id)) >= 4:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
    finally:
        await worker.stop()
    arrived = _of_call(receiver, call_id)
    assert [e["type"] for e in arrived] == ["call.started", *types]
    assert [e["id"] for e in arrived] == [str(ids[0]), *map(str, ids)]
    deliveries = await _deliveries_of(pg_pool, private_tenant, call_id)
    assert [(d.event_type, d.status, d.attempts) for d in deliveries] == [
        ("call.started", "delivered", 2),
        ("call.answered", "delivered", 1),
        ("call.ended", "delivered", 1),
    ]


async def test_a_refused_event_does_not_hold_the_rest_of_its_call(
    private_client: httpx.AsyncClient,
    private_tenant: TenantHandle,
    receiver: WebhookReceiver,
    pg_pool: asyncpg.Pool,
    box: SecretBox,
) -> None:
    await _create_hook(private_client, private_tenant, receiver.url, CALL_EVENTS)
    receiver.statuses = [410]  # gone: not retried
    call_id = str(uuid.uuid4())
    types = ["call.started", "call.answered", "call.ended"]
    await _emit_call(pg_pool, box, private_tenant, call_id, types)
    worker = WebhookWorker(pg_pool, box, allow_private=True)
    try:
        await _run_until_idle(worker)
    finally:
        await worker.stop()
    assert [e["type"] for e in _of_call(receiver, call_id)] == types
    deliveries = await _deliveries_of(pg_pool, private_tenant, call_id)
    assert [(d.status, d.last_status_code) for d in deliveries] == [
        ("failed", 410),
        ("delivered", 200),
        ("delivered", 200),
    ]


async def test_a_call_waiting_for_a_retry_does_not_hold_other_calls(
    private_client: httpx.AsyncClient,
    private_tenant: TenantHandle,
    receiver: WebhookReceiver,
    pg_pool: asyncpg.Pool,
    box: SecretBox,
) -> None:
    await _create_hook(private_client, private_tenant, receiver.url, CALL_EVENTS)
    types = ["call.started", "call.answered", "call.ended"]
    held, free = str(uuid.uuid4()), str(uuid.uuid4())
    receiver.statuses = [503]
    await _emit_call(pg_pool, box, private_tenant, held, types)
    worker = WebhookWorker(pg_pool, box, allow_private=True, backoff_base_s=60.0)
    try:
        await _run_until_idle(worker)
        await _emit_call(pg_pool, box, private_tenant, free, types)
        await _run_until_idle(worker)
        assert [e["type"] for e in _of_call(receiver, free)] == types
        assert [e["type"] for e in _of_call(receiver, held)] == ["call.started"]
        # The retry comes due: the held call goes on, in order.
        head = (await _deliveries_of(pg_pool, private_tenant, held))[0]
        await WebhookDeliveryRepository(pg_pool).update(
            private_tenant.id, head.id, {"next_attempt_at": datetime.now(UTC)}
        )
        await _run_until_idle(worker)
    finally:
        await worker.stop()
    assert [e["type"] for e in _of_call(receiver, held)] == ["call.started", *types]
    deliveries = await _deliveries_of(pg_pool, private_tenant, held)
    assert all(d.status == "delivered" for d in deliveries)


async def test_two_workers_keep_each_calls_order_without_serializing_calls(
    private_client: httpx.AsyncClient,
    private_tenant: TenantHandle,
    receiver: WebhookReceiver,
    pg_pool: asyncpg.Pool,
    box: SecretBox,
) -> None:
    await _create_hook(private_client, private_tenant, receiver.url, CALL_EVENTS)
    receiver.delay_s = 0.02
    # Some attempts fail (whichever happen to come first, third, sixth): retries in the mix.
    receiver.statuses = [500, 200, 503, 200, 200, 500]
    calls = [str(uuid.uuid4()) for _ in range(8)]
    ids: dict[str, list[uuid.UUID]] = {call_id: [] for call_id in calls}
    workers = [
        WebhookWorker(
            pg_pool, box, allow_private=True, backoff_base_s=0.05, poll_interval_s=0.02, batch=3
        )
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    try:
        # The calls' events are emitted interleaved, while both workers are running.
        for event_type in CALL_EVENTS:
            for call_id in calls:
                ids[call_id] += await _emit_call(
                    pg_pool, box, private_tenant, call_id, [event_type]
                )
        for _ in range(400):
            rows = [d for c in calls for d in await _deliveries_of(pg_pool, private_tenant, c)]
            if len(rows) == len(calls) * len(CALL_EVENTS) and all(
                d.status == "delivered" for d in rows
            ):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("not everything was delivered")
    finally:
        for worker in workers:
            await worker.stop()

    for call_id in calls:
        arrived = _of_call(receiver, call_id)
        event_ids = [str(e["id"]) for e in arrived]
        # Each event is attempted until delivered before the next one of its call is sent;
        # retries are the only repeats, and every attempt is one the row counted.
        collapsed = [i for n, i in enumerate(event_ids) if n == 0 or event_ids[n - 1] != i]
        assert collapsed == [str(i) for i in ids[call_id]], call_id
        rows = await _deliveries_of(pg_pool, private_tenant, call_id)
        assert sum(d.attempts for d in rows) == len(arrived)
    arrival = [c for c in map(_call_id, map(_assert_signed, receiver.received)) if c in ids]
    # Not one call after another: some call's events arrived while another's were under way.
    spans = {c: (arrival.index(c), len(arrival) - 1 - arrival[::-1].index(c)) for c in calls}
    assert any(spans[a][0] < spans[b][0] < spans[a][1] for a in calls for b in calls if a != b), (
        arrival
    )


async def test_a_chain_stops_at_an_event_left_waiting_for_a_retry(
    private_client: httpx.AsyncClient,
    private_tenant: TenantHandle,
    receiver: WebhookReceiver,
    pg_pool: asyncpg.Pool,
    box: SecretBox,
) -> None:
    await _create_hook(private_client, private_tenant, receiver.url, CALL_EVENTS)
    receiver.statuses = [500]
    call_id = str(uuid.uuid4())
    await _emit_call(pg_pool, box, private_tenant, call_id, ["call.started", "call.ended"])
    started, ended = await _deliveries_of(pg_pool, private_tenant, call_id)
    assert chains([ended, started]) == [[started, ended]]
    worker = WebhookWorker(pg_pool, box, allow_private=True, backoff_base_s=60.0)
    try:
        # As if both had been claimed together: the second must not overtake the first.
        await worker.deliver_in_order([started, ended])
    finally:
        await worker.stop()
    assert [e["type"] for e in _of_call(receiver, call_id)] == ["call.started"]
    started, ended = await _deliveries_of(pg_pool, private_tenant, call_id)
    assert (started.status, started.attempts) == ("pending", 1)
    assert (ended.status, ended.attempts) == ("pending", 0)
    assert ended.next_attempt_at <= datetime.now(UTC)


def test_chains_group_by_webhook_and_call() -> None:
    hook, other = uuid.uuid4(), uuid.uuid4()

    def row(seq: int, webhook_id: uuid.UUID, key: str | None) -> WebhookDelivery:
        now = datetime.now(UTC)
        return WebhookDelivery(
            id=uuid.uuid4(),
            tenant_id=uuid.uuid4(),
            webhook_id=webhook_id,
            event_id=uuid.uuid4(),
            event_type="call.started",
            payload={},
            ordering_key=key,
            seq=seq,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            last_status_code=None,
            last_error=None,
            delivered_at=None,
            created_at=now,
            updated_at=now,
        )

    a3, a1, b2, o4, n5, n6 = (
        row(3, hook, "a"),
        row(1, hook, "a"),
        row(2, hook, "b"),
        row(4, other, "a"),
        row(5, hook, None),
        row(6, hook, None),
    )
    assert chains([a3, n6, a1, o4, b2, n5]) == [[a1, a3], [b2], [o4], [n5], [n6]]


async def test_a_delivery_that_cannot_be_attempted_is_retried_and_holds_nothing_else(
    private_client: httpx.AsyncClient,
    private_tenant: TenantHandle,
    receiver: WebhookReceiver,
    pg_pool: asyncpg.Pool,
    box: SecretBox,
) -> None:
    await _create_hook(private_client, private_tenant, receiver.url, CALL_EVENTS)
    # A webhook whose secret was sealed under a key this process does not have.
    foreign = SecretBox("a-key-this-process-never-had-0123456789")
    await WebhookRepository(pg_pool, foreign).create(
        private_tenant.id, {"url": receiver.url, "events": CALL_EVENTS, "secret": SECRET}
    )
    call_id = str(uuid.uuid4())
    await emit(pg_pool, box, private_tenant.id, "call.started", {"call_id": call_id}, uuid.uuid4())
    worker = WebhookWorker(pg_pool, box, allow_private=True, backoff_base_s=60)
    try:
        await _run_until_idle(worker)
    finally:
        await worker.stop()
    assert [e["type"] for e in _of_call(receiver, call_id)] == ["call.started"]
    states = sorted(
        (d.status, d.attempts, (d.last_error or "").split(":")[0])
        for d in await _deliveries_of(pg_pool, private_tenant, call_id)
    )
    assert states == [("delivered", 1, ""), ("pending", 1, "SecretError")]
