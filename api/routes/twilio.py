"""The tenant's Twilio account and which of its routed numbers Twilio carries.

Changes take effect at once: the config cache entries `twilio_adapter` reads are invalidated
on every write. The auth token is write-only (stored sealed by `SecretBox`, shown masked).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Final
from urllib.parse import urlsplit, urlunsplit

import msgspec
from litestar import Router, delete, get, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT

from api.auth import Principal, authenticate, authenticate_writer
from api.common import audit
from api.context import ApiContext
from api.errors import ApiError, FieldError, invalid_fields, not_found, problems
from provisioning.validation import validate_did
from store.config_cache import ConfigCache
from store.numbers import normalize_number
from store.repositories.base import Conflict
from store.repositories.twilio import (
    ACCOUNT_CACHE_NAME,
    NumberProvider,
    RoutedNumber,
    TwilioAccount,
    TwilioAccountRepository,
    account_sid_cache_name,
    number_cache_name,
)

# Served by twilio_adapter.routes, which api/ must not import; tests check the two agree.
VOICE_PATH: Final = "/twilio/voice"
STATUS_PATH: Final = "/twilio/status"
MASK: Final = "****"
ACCOUNT_SID: Final = re.compile(r"AC[0-9a-fA-F]{32}")
AUTH_TOKEN: Final = re.compile(r"[0-9a-fA-F]{32}")


class TwilioAccountOut(msgspec.Struct, kw_only=True):
    """The account; `auth_token` is masked (`****` and its last 4 characters)."""

    account_sid: str
    auth_token: str
    created_at: datetime
    updated_at: datetime


class TwilioNumberOut(msgspec.Struct, kw_only=True):
    """A routed number Twilio carries, and the agent answering it."""

    did: str
    agent_id: uuid.UUID


class TwilioOut(msgspec.Struct, kw_only=True):
    """The account (null when none), its numbers, and the webhook URLs to set in Twilio's
    console (the number's "A call comes in" and "Call status changes")."""

    account: TwilioAccountOut | None
    numbers: list[TwilioNumberOut]
    voice_url: str
    status_url: str


class TwilioAccountIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    account_sid: Annotated[str, msgspec.Meta(description="`AC` and 32 hex digits.")]
    auth_token: Annotated[str, msgspec.Meta(description="32 hex digits; never returned.")]


def _webhook_url(public_url: str, path: str) -> str:
    parts = urlsplit(public_url.rstrip("/"))
    return urlunsplit(parts._replace(path=parts.path + path, query="", fragment=""))


def _repository(context: ApiContext) -> TwilioAccountRepository:
    return TwilioAccountRepository(context.pool, context.box)


def _account_out(repository: TwilioAccountRepository, row: TwilioAccount) -> TwilioAccountOut:
    token = repository.reveal(row, "auth_token") or ""
    return TwilioAccountOut(
        account_sid=row.account_sid,
        auth_token=MASK + token[-4:],
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _validate(data: TwilioAccountIn) -> tuple[str, str]:
    """The sid with its hex in Twilio's lower case, and the token; 422 naming each bad field."""
    errors = []
    if not ACCOUNT_SID.fullmatch(data.account_sid):
        errors.append(FieldError("account_sid", "must be AC followed by 32 hex digits"))
    if not AUTH_TOKEN.fullmatch(data.auth_token):
        errors.append(FieldError("auth_token", "must be 32 hex digits"))
    if errors:
        raise invalid_fields(errors)
    return "AC" + data.account_sid[2:].lower(), data.auth_token


async def _forget_account(
    context: ApiContext, tenant_id: uuid.UUID, account_sids: list[str], dids: list[str]
) -> None:
    """Drop the cached account (under the tenant and under each sid) and numbers."""
    cache = ConfigCache(context.redis)
    await cache.invalidate(tenant_id, ACCOUNT_CACHE_NAME, *map(number_cache_name, dids))
    await cache.invalidate(None, *map(account_sid_cache_name, account_sids))


@get(
    "/",
    operation_id="getTwilio",
    summary="The Twilio account, the numbers it carries and the webhook URLs for its console",
    responses=problems(401, 429),
)
async def get_twilio(
    principal: NamedDependency[Principal], context: NamedDependency[ApiContext]
) -> TwilioOut:
    repository = _repository(context)
    row = await repository.for_tenant(principal.tenant_id)
    numbers = await repository.marked_numbers(principal.tenant_id)
    public_url = context.settings.public_url
    return TwilioOut(
        account=None if row is None else _account_out(repository, row),
        numbers=[TwilioNumberOut(did=n.did, agent_id=n.agent_id) for n in numbers],
        voice_url=_webhook_url(public_url, VOICE_PATH),
        status_url=_webhook_url(public_url, STATUS_PATH),
    )


@put(
    "/account",
    operation_id="setTwilioAccount",
    summary="Connect the tenant's Twilio account (replaces the one connected)",
    responses=problems(400, 401, 403, 409, 422, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def set_account(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    data: JSONBody[TwilioAccountIn],
) -> TwilioAccountOut:
    account_sid, auth_token = _validate(data)
    tenant_id = principal.tenant_id
    repository = _repository(context)
    before = await repository.for_tenant(tenant_id)
    try:
        row = await repository.upsert(tenant_id, account_sid, auth_token)
    except Conflict as exc:
        reason = "this Twilio account is already connected to another tenant"
        raise ApiError(409, reason, errors=[FieldError("account_sid", reason)]) from exc
    old_sids = [] if before is None else [before.account_sid]
    await _forget_account(context, tenant_id, [account_sid, *old_sids], [])
    out = _account_out(repository, row)
    await audit(
        context,
        principal,
        "create" if before is None else "update",
        "twilio_account",
        row.id,
        before=None if before is None else _account_out(repository, before),
        after=out,
    )
    return out


@delete(
    "/account",
    operation_id="deleteTwilioAccount",
    summary="Disconnect the tenant's Twilio account",
    status_code=HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def delete_account(
    principal: NamedDependency[Principal], context: NamedDependency[ApiContext]
) -> None:
    tenant_id = principal.tenant_id
    repository = _repository(context)
    row = await repository.delete_for_tenant(tenant_id)
    if row is None:
        raise not_found("Twilio account")
    # Numbers stay marked (they work again once an account is connected) but stop resolving now.
    dids = [n.did for n in await repository.marked_numbers(tenant_id)]
    await _forget_account(context, tenant_id, [row.account_sid], dids)
    before = _account_out(repository, row)
    await audit(context, principal, "delete", "twilio_account", row.id, before=before)


async def _set_provider(
    principal: Principal, context: ApiContext, did: str, provider: NumberProvider
) -> RoutedNumber:
    """404 for a number the tenant does not route; 409 for Twilio without an account."""
    tenant_id = principal.tenant_id
    did = normalize_number(did)
    repository = _repository(context)
    before = None if validate_did(did) else await repository.routed_number(tenant_id, did)
    if before is None:
        raise not_found("routed number")
    if provider == "twilio" and await repository.for_tenant(tenant_id) is None:
        raise ApiError(409, "connect a Twilio account before moving numbers to Twilio")
    if not await repository.set_number_provider(tenant_id, did, provider):
        raise not_found("routed number")
    await ConfigCache(context.redis).invalidate(tenant_id, number_cache_name(did))
    after = RoutedNumber(did=did, agent_id=before.agent_id, provider=provider)
    await audit(context, principal, "update", "twilio_number", did, before=before, after=after)
    return after


@put(
    "/numbers/{did:str}",
    operation_id="setTwilioNumber",
    summary="Let Twilio carry one of the tenant's routed numbers",
    responses=problems(401, 403, 404, 409, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def set_number(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    did: FromPath[str],
) -> TwilioNumberOut:
    number = await _set_provider(principal, context, did, "twilio")
    return TwilioNumberOut(did=number.did, agent_id=number.agent_id)


@delete(
    "/numbers/{did:str}",
    operation_id="unsetTwilioNumber",
    summary="Return a routed number to Asterisk",
    status_code=HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def unset_number(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    did: FromPath[str],
) -> None:
    await _set_provider(principal, context, did, "asterisk")


router = Router(
    path="/twilio",
    route_handlers=[get_twilio, set_account, delete_account, set_number, unset_number],
    tags=["twilio"],
    security=[{"bearer": []}],
    dependencies={"principal": Provide(authenticate)},
)
