"""A tenant's SSO providers (OpenID Connect, or GitHub's OAuth 2; presets in
api/sso_presets.py): issuer, client id, client secret (sealed, never shown again), the e-mail
domains that may sign up through it, and the role they get."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from litestar import Router, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT

from api.auth import Principal, authenticate, authenticate_writer
from api.common import audit
from api.context import ApiContext
from api.errors import ApiError, invalid, not_found, problems
from api.routes.sso import sign_in_path
from api.sso_presets import DIRECTORY_PATTERN, Preset, Protocol, resolve
from api.webhooks.ssrf import refusal
from store.models import SsoProvider
from store.repositories.sso_providers import SsoProviderRepository

Domain = Annotated[str, msgspec.Meta(min_length=1, max_length=253, pattern=r"^[a-z0-9.-]+$")]
SignUpRole = Literal["admin", "viewer"]
_ISSUER_SCHEMES = frozenset({"https", "http"})


class SsoProviderCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """With a preset, the issuer is filled in (for GitHub it may name an Enterprise Server;
    for Microsoft Entra ID give the `directory` id instead)."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    preset: Preset | None = None
    issuer: Annotated[str, msgspec.Meta(min_length=1, max_length=2048)] | None = None
    directory: Annotated[str, msgspec.Meta(pattern=DIRECTORY_PATTERN)] | None = None
    client_id: Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
    client_secret: Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]
    allowed_domains: Annotated[list[Domain], msgspec.Meta(max_length=50)] = []
    default_role: SignUpRole = "viewer"


class SsoProviderOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    # "github" for GitHub's OAuth 2 flow (issuer: its web address), else "oidc".
    protocol: Protocol
    issuer: str
    client_id: str
    allowed_domains: list[str]
    default_role: SignUpRole
    # Where the browser starts signing in with this provider.
    sign_in_path: str
    created_at: datetime


class SsoProviderList(msgspec.Struct, kw_only=True):
    items: list[SsoProviderOut]


def _out(row: SsoProvider) -> SsoProviderOut:
    return SsoProviderOut(
        id=row.id,
        name=row.name,
        protocol=row.protocol,  # type: ignore[arg-type]  # the table's CHECK
        issuer=row.issuer,
        client_id=row.client_id,
        allowed_domains=row.allowed_domains,
        default_role=row.default_role,  # type: ignore[arg-type]  # the table's CHECK
        sign_in_path=sign_in_path(row.id),
        created_at=row.created_at,
    )


def _public(row: SsoProvider) -> dict[str, object]:
    return {
        "name": row.name,
        "protocol": row.protocol,
        "issuer": row.issuer,
        "client_id": row.client_id,
        "allowed_domains": row.allowed_domains,
        "default_role": row.default_role,
    }


@post(
    "/",
    operation_id="createSsoProvider",
    responses=problems(400, 401, 403, 409, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def create_sso_provider(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    data: JSONBody[SsoProviderCreate],
) -> SsoProviderOut:
    endpoint = resolve(data.preset, data.issuer, data.directory)
    reason = refusal(
        endpoint.issuer, allow_private=context.settings.allow_private_urls, schemes=_ISSUER_SCHEMES
    )
    if reason is not None:
        raise invalid("issuer", reason)
    row = await SsoProviderRepository(context.pool, context.box).create(
        principal.tenant_id,
        {
            "name": data.name,
            "protocol": endpoint.protocol,
            "issuer": endpoint.issuer,
            "client_id": data.client_id,
            "client_secret": data.client_secret,
            "allowed_domains": sorted({d.lower() for d in data.allowed_domains}),
            "default_role": data.default_role,
        },
    )
    await audit(context, principal, "create", "sso_provider", row.id, after=_public(row))
    return _out(row)


@get(
    "/",
    operation_id="listSsoProviders",
    responses=problems(401, 429),
    dependencies={"principal": Provide(authenticate)},
)
async def list_sso_providers(
    principal: NamedDependency[Principal], context: NamedDependency[ApiContext]
) -> SsoProviderList:
    page = await SsoProviderRepository(context.pool, context.box).list_page(
        principal.tenant_id, sort="name", limit=200
    )
    return SsoProviderList(items=[_out(r) for r in page.items])


@delete(
    "/{provider_id:uuid}",
    operation_id="deleteSsoProvider",
    status_code=HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404, 409, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def delete_sso_provider(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    provider_id: FromPath[uuid.UUID],
) -> None:
    repository = SsoProviderRepository(context.pool, context.box)
    row = await repository.get(principal.tenant_id, provider_id)
    if row is None:
        raise not_found("SSO provider")
    if not await repository.delete_keeping_a_way_in(principal.tenant_id, provider_id):
        if await repository.get(principal.tenant_id, provider_id) is None:
            raise not_found("SSO provider")
        raise ApiError(
            409, "the tenant requires SSO and this is its last provider: turn that off first"
        )
    await audit(context, principal, "delete", "sso_provider", provider_id, before=_public(row))


router = Router(
    path="/sso-providers",
    route_handlers=[create_sso_provider, list_sso_providers, delete_sso_provider],
    tags=["sso"],
    security=[{"bearer": []}],
)
