"""Tenants' Twilio accounts and numbers, read through the 60 s config cache.

The cache holds the account row as stored (the auth token still sealed by `SecretBox`); the
token is decrypted at use, so Redis never holds it in clear.
"""

from __future__ import annotations

import uuid

import asyncpg
import msgspec
from redis.asyncio import Redis

from store.config_cache import ConfigCache
from store.repositories.twilio import (
    ACCOUNT_CACHE_NAME,
    TwilioAccount,
    TwilioAccountRepository,
    TwilioNumber,
    account_sid_cache_name,
    number_cache_name,
)
from store.secrets import SecretBox


class TwilioCredentials(msgspec.Struct, frozen=True):
    """What signs Twilio's requests and authenticates ours (HTTP Basic)."""

    tenant_id: uuid.UUID
    account_sid: str
    auth_token: str


class TwilioAccounts:
    """Credentials by tenant or by AccountSid, and Twilio numbers, cached for 60 s."""

    def __init__(self, pool: asyncpg.Pool, redis: Redis, box: SecretBox) -> None:
        self._repo = TwilioAccountRepository(pool, box)
        self._cache = ConfigCache(redis)

    def _open(self, row: TwilioAccount | None) -> TwilioCredentials | None:
        if row is None:
            return None
        token = self._repo.reveal(row, "auth_token")
        assert token is not None
        return TwilioCredentials(row.tenant_id, row.account_sid, token)

    async def for_tenant(self, tenant_id: uuid.UUID) -> TwilioCredentials | None:
        row = await self._cache.get_or_load(
            tenant_id,
            ACCOUNT_CACHE_NAME,
            TwilioAccount,
            lambda: self._repo.for_tenant(tenant_id),
        )
        return self._open(row)

    async def for_account_sid(self, account_sid: str) -> TwilioCredentials | None:
        row = await self._cache.get_or_load(
            None,
            account_sid_cache_name(account_sid),
            TwilioAccount,
            lambda: self._repo.by_account_sid(account_sid),
        )
        return self._open(row)

    async def number(self, tenant_id: uuid.UUID, did: str) -> TwilioNumber | None:
        return await self._cache.get_or_load(
            tenant_id,
            number_cache_name(did),
            TwilioNumber,
            lambda: self._repo.twilio_number(tenant_id, did),
        )

    async def agent_number(self, tenant_id: uuid.UUID, agent_id: uuid.UUID) -> str | None:
        return await self._repo.agent_twilio_number(tenant_id, agent_id)

    async def invalidate(self, tenant_id: uuid.UUID, account_sid: str) -> None:
        """Forget the cached account after it changed."""
        await self._cache.invalidate(tenant_id, ACCOUNT_CACHE_NAME)
        await self._cache.invalidate(None, account_sid_cache_name(account_sid))
