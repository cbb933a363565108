"""Provider credentials (STT, LLM, TTS vendors), the vendor catalog, and credential checks."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Router, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from api.auth import Principal, authenticate, authenticate_writer
from api.common import DEFAULT_LIMIT, Limit, Offset, audit, sort_param
from api.context import ApiContext
from api.errors import ApiError, FieldError, invalid, invalid_fields, not_found, problems
from api.provider_urls import check_destinations, url_problems
from api.webhooks.ssrf import BlockedDestination
from providers import registry
from providers.base import ProviderConfig, ProviderError, ProviderKind
from providers.check_words import failure_words
from providers.registry import InvalidOptions, ProviderConfigError, UnknownVendor, VendorInfo
from store.config_cache import ConfigCache, credential_cache_name
from store.models import ProviderCredential
from store.repositories.config import AgentRepository, ProviderCredentialRepository

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Vendor = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Model = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
# Keys travel in HTTP headers: printable ASCII only.
SecretText = Annotated[str, msgspec.Meta(min_length=1, max_length=4_096, pattern=r"^[\x21-\x7e]+$")]
MASK = "****"


class ProviderTestResult(msgspec.Struct, kw_only=True):
    """The last credential check: `message` is the refusal's reason when `ok` is false."""

    ok: bool
    at: datetime
    message: str | None


class ProviderOut(msgspec.Struct, kw_only=True):
    """A stored credential; `api_key` is masked (`****` and the last 4 characters);
    `last_test` is the last check of it, kept."""

    id: uuid.UUID
    name: str
    kind: ProviderKind
    vendor: str
    api_key: str | None
    model: str | None
    options: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    last_test: ProviderTestResult | None = None


class ProviderList(msgspec.Struct, kw_only=True):
    items: list[ProviderOut]
    total: int
    limit: int
    offset: int


class ProviderCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name
    kind: ProviderKind
    vendor: Vendor
    api_key: SecretText | None = None
    model: Model | None = None
    options: dict[str, Any] = msgspec.field(default_factory=dict)


class ProviderUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Only the fields given change; `api_key: null` removes the key."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    vendor: Vendor | msgspec.UnsetType = msgspec.UNSET
    api_key: SecretText | msgspec.UnsetType | None = msgspec.UNSET
    model: Model | msgspec.UnsetType | None = msgspec.UNSET
    options: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET


class Catalog(msgspec.Struct):
    vendors: list[VendorInfo]


class CredentialCheck(msgspec.Struct):
    ok: bool
    vendor: str


def _mask(last4: str | None) -> str | None:
    return None if last4 is None else f"{MASK}{last4}"


def _out(row: ProviderCredential) -> ProviderOut:
    return ProviderOut(
        id=row.id,
        name=row.name,
        kind=ProviderKind(row.kind),
        vendor=row.vendor,
        api_key=_mask(row.api_key_last4),
        model=row.model,
        options=row.options,
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_test=None
        if row.last_test_ok is None or row.last_test_at is None
        else ProviderTestResult(
            ok=row.last_test_ok, at=row.last_test_at, message=row.last_test_message
        ),
    )


def _validate(context: ApiContext, kind: ProviderKind, config: ProviderConfig) -> None:
    """422 naming the field when the vendor would refuse this configuration, or one of its
    URLs points where tenants may not send requests."""
    refused = url_problems(context, config.options, "options")
    if refused:
        raise invalid_fields(refused)
    try:
        registry.validate(kind, config)
    except UnknownVendor as exc:
        raise invalid("vendor", str(exc)) from exc
    except InvalidOptions as exc:
        field = f"options.{exc.option}" if exc.option else "options"
        raise invalid_fields([FieldError(field, exc.detail)]) from exc
    except ProviderConfigError as exc:
        raise invalid("api_key", str(exc)) from exc


@get("/catalog", operation_id="getProviderCatalog", responses=problems(401, 429))
async def get_catalog(principal: NamedDependency[Principal]) -> Catalog:
    """Every vendor this process can run, with its models, voices and option schema."""
    return Catalog(vendors=registry.catalog())


@get("/", operation_id="listProviders", responses=problems(400, 401, 429))
async def list_providers(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
    kind: FromQuery[ProviderKind | None] = None,
    vendor: FromQuery[Vendor | None] = None,
    sort: Annotated[str, sort_param(ProviderCredentialRepository.sortable)] = "name",
) -> ProviderList:
    filters: dict[str, Any] = {k: v for k, v in (("kind", kind), ("vendor", vendor)) if v}
    page = await ProviderCredentialRepository(context.pool, context.box).list_page(
        principal.tenant_id, filters=filters, sort=sort, limit=limit, offset=offset
    )
    return ProviderList(
        items=[_out(r) for r in page.items], total=page.total, limit=page.limit, offset=page.offset
    )


@post(
    "/",
    operation_id="createProvider",
    responses=problems(400, 401, 403, 409, 422, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def create_provider(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    data: JSONBody[ProviderCreate],
) -> ProviderOut:
    _validate(
        context,
        data.kind,
        ProviderConfig(
            vendor=data.vendor, model=data.model, api_key=data.api_key, options=data.options
        ),
    )
    row = await ProviderCredentialRepository(context.pool, context.box).create(
        principal.tenant_id,
        {
            "name": data.name,
            "kind": data.kind.value,
            "vendor": data.vendor,
            "api_key": data.api_key,
            "api_key_last4": data.api_key[-4:] if data.api_key else None,
            "model": data.model,
            "options": data.options,
        },
    )
    out = _out(row)
    await audit(context, principal, "create", "provider", row.id, after=out)
    return out


async def _get(
    context: ApiContext, tenant_id: uuid.UUID, provider_id: uuid.UUID
) -> ProviderCredential:
    row = await ProviderCredentialRepository(context.pool, context.box).get(tenant_id, provider_id)
    if row is None:
        raise not_found("provider")
    return row


@get("/{provider_id:uuid}", operation_id="getProvider", responses=problems(401, 404, 429))
async def get_provider(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    provider_id: FromPath[uuid.UUID],
) -> ProviderOut:
    return _out(await _get(context, principal.tenant_id, provider_id))


@patch(
    "/{provider_id:uuid}",
    operation_id="updateProvider",
    responses=problems(400, 401, 403, 404, 409, 422, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def update_provider(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    provider_id: FromPath[uuid.UUID],
    data: JSONBody[ProviderUpdate],
) -> ProviderOut:
    repository = ProviderCredentialRepository(context.pool, context.box)
    current = await _get(context, principal.tenant_id, provider_id)
    values: dict[str, Any] = {
        k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET
    }
    api_key = values["api_key"] if "api_key" in values else repository.reveal(current, "api_key")
    if "api_key" in values:
        values["api_key_last4"] = api_key[-4:] if api_key else None
    _validate(
        context,
        ProviderKind(current.kind),
        ProviderConfig(
            vendor=values.get("vendor", current.vendor),
            model=values.get("model", current.model),
            api_key=api_key,
            options=values.get("options", current.options),
        ),
    )
    row = await repository.update(principal.tenant_id, provider_id, values)
    if row is None:
        raise not_found("provider")
    await ConfigCache(context.redis).invalidate(
        principal.tenant_id, credential_cache_name(provider_id)
    )
    out = _out(row)
    await audit(
        context, principal, "update", "provider", provider_id, before=_out(current), after=out
    )
    return out


@delete(
    "/{provider_id:uuid}",
    operation_id="deleteProvider",
    summary="Delete a provider no agent uses (409 naming the agents that do)",
    status_code=HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404, 409, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def delete_provider(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    provider_id: FromPath[uuid.UUID],
) -> None:
    current = await _get(context, principal.tenant_id, provider_id)
    users = await AgentRepository(context.pool).names_using_credential(
        principal.tenant_id, provider_id
    )
    if users:
        # Deleting it would leave these agents unable to take a call.
        which = f"agent {users[0]}" if len(users) == 1 else f"agents {', '.join(users)}"
        raise ApiError(409, f"This provider is used by {which}: switch them to another first.")
    await ProviderCredentialRepository(context.pool, context.box).delete(
        principal.tenant_id, provider_id
    )
    await ConfigCache(context.redis).invalidate(
        principal.tenant_id, credential_cache_name(provider_id)
    )
    await audit(context, principal, "delete", "provider", provider_id, before=_out(current))


@post(
    "/{provider_id:uuid}/test",
    operation_id="testProvider",
    summary="Check the stored credential with the vendor",
    status_code=HTTP_200_OK,
    responses=problems(401, 403, 404, 422, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def test_provider(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    provider_id: FromPath[uuid.UUID],
) -> CredentialCheck:
    """The check's result is kept on the provider (`last_test`), refusals with their reason."""
    try:
        result = await _check(context, principal.tenant_id, provider_id)
    except ApiError as exc:
        if exc.status_code == 422:
            await _keep_test(
                context, principal.tenant_id, provider_id, ok=False, message=exc.detail
            )
        raise
    await _keep_test(context, principal.tenant_id, provider_id, ok=True, message=None)
    return result


async def _keep_test(
    context: ApiContext,
    tenant_id: uuid.UUID,
    provider_id: uuid.UUID,
    *,
    ok: bool,
    message: str | None,
) -> None:
    # Not through the repository: a check is not an edit and leaves updated_at alone.
    await context.pool.execute(
        "UPDATE provider_credentials SET last_test_ok = $3, last_test_at = now(), "
        "last_test_message = $4 WHERE tenant_id = $1 AND id = $2",
        tenant_id,
        provider_id,
        ok,
        message,
    )


async def _check(
    context: ApiContext, tenant_id: uuid.UUID, provider_id: uuid.UUID
) -> CredentialCheck:
    repository = ProviderCredentialRepository(context.pool, context.box)
    row = await _get(context, tenant_id, provider_id)
    config = ProviderConfig(
        vendor=row.vendor,
        model=row.model,
        api_key=repository.reveal(row, "api_key"),
        options=row.options,
    )
    try:
        await check_destinations(context, config.options)
    except BlockedDestination as exc:
        raise ApiError(422, f"{row.vendor}: {exc}") from exc
    try:
        provider = registry.build(row.kind, config)
    except ProviderError as exc:
        raise ApiError(422, f"{row.vendor}: {exc}") from exc
    timeout_s = context.settings.provider_test_timeout_s
    try:
        await asyncio.wait_for(provider.check_credentials(), timeout_s)
    except Exception as exc:
        words = failure_words(exc, row.vendor, timeout_s)
        if words is None:
            raise
        raise ApiError(422, words) from exc
    finally:
        await provider.close()
    return CredentialCheck(ok=True, vendor=row.vendor)


router = Router(
    path="/providers",
    route_handlers=[
        get_catalog,
        list_providers,
        create_provider,
        get_provider,
        update_provider,
        delete_provider,
        test_provider,
    ],
    tags=["providers"],
    security=[{"bearer": []}],
    dependencies={"principal": Provide(authenticate)},
)
