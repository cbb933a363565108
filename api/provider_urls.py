"""URLs in a provider's options (`base_url`, `api_base_url`, ...) are tenants' URLs like any
other: refused when they reach the deployment's own network, unless the operator allows
private destinations (local model servers)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from api.context import ApiContext
from api.errors import FieldError
from api.webhooks.ssrf import PROVIDER_SCHEMES, refusal, resolve_public
from providers.base import url_options


def url_problems(context: ApiContext, options: Mapping[str, Any], field: str) -> list[FieldError]:
    """What is wrong with the URLs among `options`, each named `{field}.{option}`."""
    allow = context.settings.allow_private_urls
    found = []
    for key, url in url_options(options).items():
        reason = refusal(url, allow_private=allow, schemes=PROVIDER_SCHEMES)
        if reason is not None:
            found.append(FieldError(f"{field}.{key}", reason))
    return found


async def check_destination(url: str, *, allow_private: bool) -> None:
    """Resolve a provider URL before anything connects to it; `BlockedDestination` when it
    reaches an address that is not allowed."""
    await resolve_public(url, allow_private=allow_private, schemes=PROVIDER_SCHEMES)


async def check_destinations(context: ApiContext, options: Mapping[str, Any]) -> None:
    """`check_destination` for every URL among `options`."""
    for url in url_options(options).values():
        await check_destination(url, allow_private=context.settings.allow_private_urls)
