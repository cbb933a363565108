"""`vocals providers check`: one minimal real request per provider a tenant configured, with the
stored key, reported in plain words — the first thing to do after pasting a key.

Each credential is built as a call would build it and asked `check_credentials()` (a model
list or an opened-and-closed session: free, and refused with 401/403 for a bad key), all at
once, each within `CHECK_TIMEOUT_S`. Keys are never printed.
"""

from __future__ import annotations

import asyncio

import msgspec

from providers import builtin, registry
from providers.base import ProviderConfig, ProviderError
from providers.check_words import failure_words
from store.repositories.config import ProviderCredentialRepository
from store.repositories.tenants import TenantsRepository
from vocals.admin import AdminError, database
from vocals.secret_key import secret_box
from vocals.settings import Settings

# How long one vendor may take to answer: a healthy one answers in well under a second.
CHECK_TIMEOUT_S = 10.0
# Credentials are few per tenant; one page holds them all.
_MAX_CREDENTIALS = 500


class ProviderCheck(msgspec.Struct, frozen=True):
    """The outcome for one stored credential."""

    name: str
    kind: str
    vendor: str
    ok: bool
    detail: str

    def line(self) -> str:
        mark = "ok  " if self.ok else "FAIL"
        return f"{mark} {self.kind} {self.vendor} ({self.name}): {self.detail}"


async def check_providers(settings: Settings, tenant_name: str) -> list[ProviderCheck]:
    """Check every provider credential of the tenant named `tenant_name`."""
    builtin.load_all()
    async with database(settings) as (pool, _services):
        tenant = await TenantsRepository(pool).find_by_name(tenant_name)
        if tenant is None:
            raise AdminError(f"no tenant named {tenant_name!r}")
        repository = ProviderCredentialRepository(pool, secret_box(settings))
        page = await repository.list_page(tenant.id, sort="name", limit=_MAX_CREDENTIALS)
        configs = [
            (
                row,
                ProviderConfig(
                    vendor=row.vendor,
                    model=row.model,
                    api_key=repository.reveal(row, "api_key"),
                    options=row.options,
                ),
            )
            for row in page.items
        ]
    results = await asyncio.gather(*(_check(row.name, row.kind, config) for row, config in configs))
    return list(results)


async def _check(name: str, kind: str, config: ProviderConfig) -> ProviderCheck:
    def result(ok: bool, detail: str) -> ProviderCheck:
        return ProviderCheck(name=name, kind=kind, vendor=config.vendor, ok=ok, detail=detail)

    try:
        provider = registry.build(kind, config)
    except ProviderError as exc:
        return result(False, f"not usable as configured: {exc}")
    if registry.get(kind, config.vendor).offline:
        await provider.close()
        return result(True, "runs on this machine, no key to check")
    model = f" with model {config.model}" if config.model else ""
    try:
        await asyncio.wait_for(provider.check_credentials(), CHECK_TIMEOUT_S)
    except Exception as exc:
        words = failure_words(exc, config.vendor, CHECK_TIMEOUT_S)
        if words is None:
            raise
        # The operator's own terminal may show what the vendor said; the API never does.
        return result(False, f"{words} ({exc})" if str(exc) else words)
    finally:
        await provider.close()
    return result(True, f"the key works{model}")
