"""URLs in a provider's options (`base_url`, `api_base_url`, ...) are tenants' URLs like any
other: refused when they reach the deployment's own network, unless the operator allows
private destinations (local model servers)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from api.context import ApiContext
from api.errors import FieldError
from api.webhooks.ssrf import PROVIDER_SCHEMES, refusal, resolve_public


def _urls(options: Mapping[str, Any]) -> dict[str, str]:
    return {k: v for k, v in options.items() if k.endswith("url") and isinstance(v, str)}


def url_problems(context: ApiContext, options: Mapping[str, Any], field: str) -> list[FieldError]:
    """What is wrong with the URLs among `options`, each named `{field}.{option}`."""
    allow = context.settings.allow_private_urls
    found = []
    for key, url in _urls(options).items():
        reason = refusal(url, allow_private=allow, schemes=PROVIDER_SCHEMES)
        if reason is not None:
            found.append(FieldError(f"{field}.{key}", reason))
    return found


async def check_destinations(context: ApiContext, options: Mapping[str, Any]) -> None:
    """Resolve the URLs among `options` before anything connects to them; `BlockedDestination`
    when one reaches an address that is not allowed."""
    for url in _urls(options).values():
        await resolve_public(
            url, allow_private=context.settings.allow_private_urls, schemes=PROVIDER_SCHEMES
        )
