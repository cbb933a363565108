"""Webhooks: subscriptions to call lifecycle events, a test button, and the delivery log."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import msgspec
from litestar import Router, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT

from api.auth import Principal, authenticate, authenticate_writer
from api.common import DEFAULT_LIMIT, Limit, Offset, audit, sort_param
from api.context import ApiContext
from api.errors import FieldError, invalid, invalid_fields, not_found, problems
from api.webhooks.emit import EVENT_TYPES, TEST_EVENT, EventType
from api.webhooks.ssrf import refusal
from api.webhooks.worker import WebhookWorker
from store.models import Webhook, WebhookDelivery
from store.repositories.config import WebhookRepository
from store.repositories.webhooks import WebhookDeliveryRepository

Url = Annotated[str, msgspec.Meta(min_length=1, max_length=2_000)]
Secret = Annotated[str, msgspec.Meta(min_length=16, max_length=200)]
# Every event type there is: a webhook may take them all.
Events = Annotated[list[EventType], msgspec.Meta(min_length=1, max_length=len(EVENT_TYPES))]
DeliveryStatus = Literal["pending", "delivered", "failed"]
_SECRET_BYTES = 24


class WebhookOut(msgspec.Struct, kw_only=True):
    """A webhook; the secret shows as `****` and its last 4 characters."""

    id: uuid.UUID
    url: str
    events: list[EventType]
    active: bool
    secret: str
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookOut, kw_only=True):
    """The new webhook with its full signing secret, shown this once."""

    signing_secret: str


class WebhookList(msgspec.Struct, kw_only=True):
    items: list[WebhookOut]
    total: int
    limit: int
    offset: int


class WebhookCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`secret` signs every delivery; omitted, one is generated and returned once."""

    url: Url
    events: Events
    secret: Secret | None = None
    active: bool = True


class WebhookUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    url: Url | msgspec.UnsetType = msgspec.UNSET
    events: Events | msgspec.UnsetType = msgspec.UNSET
    secret: Secret | msgspec.UnsetType = msgspec.UNSET
    active: bool | msgspec.UnsetType = msgspec.UNSET


class DeliveryOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    webhook_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    payload: dict[str, Any]
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    # Where the last attempt went: the webhook's URL at that time, which may since have changed.
    last_url: str | None
    delivered_at: datetime | None
    created_at: datetime


class DeliveryList(msgspec.Struct, kw_only=True):
    items: list[DeliveryOut]
    total: int
    limit: int
    offset: int


def _out(row: Webhook, secret: str) -> WebhookOut:
    return WebhookOut(
        id=row.id,
        url=row.url,
        events=row.events,  # type: ignore[arg-type]  # only EventType values are ever stored
        active=row.active,
        secret=f"****{secret[-4:]}",
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _delivery_out(row: WebhookDelivery) -> DeliveryOut:
    values = msgspec.structs.asdict(row)
    values.pop("tenant_id")
    values.pop("updated_at")
    return msgspec.convert(values, DeliveryOut, strict=False)


def _check_url(context: ApiContext, url: str) -> None:
    """422 for a URL that can never be delivered to. Hostnames are resolved and checked again
    at each delivery (DNS may change)."""
    reason = refusal(url, allow_private=context.settings.allow_private_urls)
    if reason is not None:
        raise invalid("url", reason)


async def _get(
    context: ApiContext, tenant_id: uuid.UUID, webhook_id: uuid.UUID
) -> tuple[Webhook, str]:
    repository = WebhookRepository(context.pool, context.box)
    row = await repository.get(tenant_id, webhook_id)
    if row is None:
        raise not_found("webhook")
    return row, repository.reveal(row, "secret") or ""


@get("/", operation_id="listWebhooks", responses=problems(400, 401, 429))
async def list_webhooks(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
    active: FromQuery[bool | None] = None,
    sort: Annotated[str, sort_param(WebhookRepository.sortable)] = "-created_at",
) -> WebhookList:
    repository = WebhookRepository(context.pool, context.box)
    filters = {} if active is None else {"active": active}
    page = await repository.list_page(
        principal.tenant_id, filters=filters, sort=sort, limit=limit, offset=offset
    )
    items = [_out(r, repository.reveal(r, "secret") or "") for r in page.items]
    return WebhookList(items=items, total=page.total, limit=page.limit, offset=page.offset)


@post(
    "/",
    operation_id="createWebhook",
    responses=problems(400, 401, 403, 409, 422, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def create_webhook(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    data: JSONBody[WebhookCreate],
) -> WebhookCreated:
    _check_url(context, data.url)
    if len(set(data.events)) != len(data.events):
        raise invalid_fields([FieldError("events", "lists an event twice")])
    secret = data.secret or f"whsec_{secrets.token_urlsafe(_SECRET_BYTES)}"
    row = await WebhookRepository(context.pool, context.box).create(
        principal.tenant_id,
        {"url": data.url, "events": list(data.events), "secret": secret, "active": data.active},
    )
    out = _out(row, secret)
    await audit(context, principal, "create", "webhook", row.id, after=out)
    return WebhookCreated(**msgspec.structs.asdict(out), signing_secret=secret)


@get("/{webhook_id:uuid}", operation_id="getWebhook", responses=problems(401, 404, 429))
async def get_webhook(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    webhook_id: FromPath[uuid.UUID],
) -> WebhookOut:
    return _out(*await _get(context, principal.tenant_id, webhook_id))


@patch(
    "/{webhook_id:uuid}",
    operation_id="updateWebhook",
    responses=problems(400, 401, 403, 404, 422, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def update_webhook(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    webhook_id: FromPath[uuid.UUID],
    data: JSONBody[WebhookUpdate],
) -> WebhookOut:
    current, secret = await _get(context, principal.tenant_id, webhook_id)
    values = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    if "url" in values:
        _check_url(context, values["url"])
    if "events" in values and len(set(values["events"])) != len(values["events"]):
        raise invalid_fields([FieldError("events", "lists an event twice")])
    row = await WebhookRepository(context.pool, context.box).update(
        principal.tenant_id, webhook_id, values
    )
    if row is None:
        raise not_found("webhook")
    out = _out(row, values.get("secret", secret))
    await audit(
        context, principal, "update", "webhook", webhook_id, before=_out(current, secret), after=out
    )
    return out


@delete(
    "/{webhook_id:uuid}",
    operation_id="deleteWebhook",
    status_code=HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def delete_webhook(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    webhook_id: FromPath[uuid.UUID],
) -> None:
    current, secret = await _get(context, principal.tenant_id, webhook_id)
    await WebhookRepository(context.pool, context.box).delete(principal.tenant_id, webhook_id)
    await audit(context, principal, "delete", "webhook", webhook_id, before=_out(current, secret))


@post(
    "/{webhook_id:uuid}/test",
    operation_id="testWebhook",
    summary="Send a signed `webhook.test` event now and report how the receiver answered",
    status_code=200,
    responses=problems(401, 403, 404, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def test_webhook(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    webhook_id: FromPath[uuid.UUID],
) -> DeliveryOut:
    hook, _ = await _get(context, principal.tenant_id, webhook_id)
    deliveries = WebhookDeliveryRepository(context.pool)
    event_id = uuid.uuid4()
    payload = {"webhook_id": str(hook.id), "message": "This is a test event from Vocals."}
    await deliveries.enqueue(principal.tenant_id, hook.id, event_id, TEST_EVENT, payload)
    page = await deliveries.list_page(
        principal.tenant_id, filters={"webhook_id": hook.id, "event_id": event_id}, limit=1
    )
    row = page.items[0]
    # Leased like a worker's claim, so no worker attempts it at the same time; a test is one try.
    lease = datetime.now(UTC) + timedelta(seconds=context.settings.webhook_timeout_s * 2)
    row = await deliveries.update(principal.tenant_id, row.id, {"next_attempt_at": lease}) or row
    worker = WebhookWorker(
        context.pool,
        context.box,
        max_attempts=1,
        timeout_s=context.settings.webhook_timeout_s,
        allow_private=context.settings.allow_private_urls,
    )
    try:
        row = await worker.deliver(row)
    finally:
        await worker.stop()
    await audit(context, principal, "test", "webhook", webhook_id)
    return _delivery_out(row)


@get(
    "/{webhook_id:uuid}/deliveries",
    operation_id="listWebhookDeliveries",
    responses=problems(400, 401, 404, 429),
)
async def list_deliveries(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    webhook_id: FromPath[uuid.UUID],
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
    status: FromQuery[DeliveryStatus | None] = None,
    event_type: FromQuery[Annotated[str, msgspec.Meta(max_length=64)] | None] = None,
    sort: Annotated[str, sort_param(WebhookDeliveryRepository.sortable)] = "-created_at",
) -> DeliveryList:
    await _get(context, principal.tenant_id, webhook_id)
    filters: dict[str, Any] = {"webhook_id": webhook_id}
    if status is not None:
        filters["status"] = status
    if event_type is not None:
        filters["event_type"] = event_type
    page = await WebhookDeliveryRepository(context.pool).list_page(
        principal.tenant_id, filters=filters, sort=sort, limit=limit, offset=offset
    )
    return DeliveryList(
        items=[_delivery_out(d) for d in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


router = Router(
    path="/webhooks",
    route_handlers=[
        list_webhooks,
        create_webhook,
        get_webhook,
        update_webhook,
        delete_webhook,
        test_webhook,
        list_deliveries,
    ],
    tags=["webhooks"],
    security=[{"bearer": []}],
    dependencies={"principal": Provide(authenticate)},
)
