"""An agent's choice of STT, LLM or TTS: a stored credential, or a vendor that needs none."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec

from api.context import ApiContext
from api.errors import FieldError
from api.provider_urls import url_problems
from providers import registry
from providers.base import ProviderConfig, ProviderKind
from providers.registry import InvalidOptions, ProviderConfigError, UnknownVendor
from store.repositories.config import ProviderCredentialRepository

ShortText = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class ProviderChoice(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`credential_id` names a stored provider (its vendor, key and model); without one,
    `vendor` must be a vendor that needs no API key (the offline defaults)."""

    credential_id: uuid.UUID | None = None
    vendor: ShortText | None = None
    model: ShortText | None = None
    voice: ShortText | None = None
    options: dict[str, Any] = msgspec.field(default_factory=dict)


async def resolve_choice(
    context: ApiContext, tenant_id: uuid.UUID, kind: ProviderKind, choice: ProviderChoice
) -> tuple[ProviderChoice, list[FieldError]]:
    """The choice with its vendor filled in from the credential, and what is wrong with it."""
    field = kind.value
    api_key: str | None = None
    vendor = choice.vendor
    model = choice.model
    if choice.credential_id is not None:
        repository = ProviderCredentialRepository(context.pool, context.box)
        credential = await repository.get(tenant_id, choice.credential_id)
        if credential is None or credential.kind != kind:
            return choice, [
                FieldError(f"{field}.credential_id", f"no {kind} provider with this id")
            ]
        if vendor is not None and vendor != credential.vendor:
            return choice, [FieldError(f"{field}.vendor", "differs from the credential's vendor")]
        vendor = credential.vendor
        model = model or credential.model
        api_key = repository.reveal(credential, "api_key")
    if vendor is None:
        return choice, [FieldError(field, "needs a credential_id or a vendor")]
    refused = url_problems(context, choice.options, f"{field}.options")
    if refused:
        return choice, refused
    config = ProviderConfig(
        vendor=vendor, model=model, api_key=api_key, voice=choice.voice, options=choice.options
    )
    try:
        registry.validate(kind, config)
    except UnknownVendor as exc:
        return choice, [FieldError(f"{field}.vendor", str(exc))]
    except InvalidOptions as exc:
        where = f"{field}.options.{exc.option}" if exc.option else f"{field}.options"
        return choice, [FieldError(where, exc.detail)]
    except ProviderConfigError as exc:
        target = "credential_id" if "API key" in str(exc) else "voice"
        return choice, [FieldError(f"{field}.{target}", str(exc))]
    return msgspec.structs.replace(choice, vendor=vendor), []
