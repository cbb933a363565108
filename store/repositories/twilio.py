"""A tenant's Twilio account and which of its numbers are Twilio numbers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

import msgspec

from store.repositories.base import TenantRepository

NumberProvider = Literal["asterisk", "twilio"]

# Config cache entries (`store.config_cache`) that `twilio_adapter.accounts` reads and writers
# of accounts and numbers invalidate.
ACCOUNT_CACHE_NAME = "twilio-account"  # per tenant


def account_sid_cache_name(account_sid: str) -> str:
    """The entry (tenant None) holding the account a webhook's AccountSid names."""
    return f"twilio-account-sid:{account_sid}"


def number_cache_name(did: str) -> str:
    """The tenant-scoped entry holding a `TwilioNumber`."""
    return f"twilio-number:{did}"


class TwilioAccount(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    tenant_id: uuid.UUID
    account_sid: str
    auth_token: bytes  # SecretBox ciphertext; `reveal(row, "auth_token")` decrypts it
    created_at: datetime
    updated_at: datetime


class TwilioNumber(msgspec.Struct, kw_only=True, frozen=True):
    """An inbound route Twilio carries: the number and the agent answering it."""

    tenant_id: uuid.UUID
    agent_id: uuid.UUID
    did: str


class RoutedNumber(msgspec.Struct, kw_only=True, frozen=True):
    """One of a tenant's inbound routes and who carries it."""

    did: str
    agent_id: uuid.UUID
    provider: NumberProvider


class TwilioAccountRepository(TenantRepository[TwilioAccount]):
    """One Twilio account per tenant (at most), plus the numbers it carries."""

    table = "twilio_accounts"
    row_type = TwilioAccount
    writable = frozenset({"account_sid", "auth_token"})
    encrypted = frozenset({"auth_token"})

    async def for_tenant(self, tenant_id: uuid.UUID) -> TwilioAccount | None:
        record = await self._pool.fetchrow(
            "SELECT * FROM twilio_accounts WHERE tenant_id = $1", tenant_id
        )
        return self._row(record)

    async def upsert(
        self, tenant_id: uuid.UUID, account_sid: str, auth_token: str
    ) -> TwilioAccount:
        """Create or replace the tenant's account; `Conflict` when another tenant has the sid."""
        prepared = self._prepare({"account_sid": account_sid, "auth_token": auth_token})
        record = await self._execute_returning(
            "INSERT INTO twilio_accounts (id, tenant_id, account_sid, auth_token) "
            "VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id) DO UPDATE SET "
            "account_sid = EXCLUDED.account_sid, auth_token = EXCLUDED.auth_token, "
            "updated_at = now() RETURNING *",
            [uuid.uuid4(), tenant_id, prepared["account_sid"], prepared["auth_token"]],
        )
        row = self._row(record)
        assert row is not None
        return row

    async def delete_for_tenant(self, tenant_id: uuid.UUID) -> TwilioAccount | None:
        """Remove the tenant's account; the removed row, or None when there was none."""
        record = await self._pool.fetchrow(
            "DELETE FROM twilio_accounts WHERE tenant_id = $1 RETURNING *", tenant_id
        )
        return self._row(record)

    async def by_account_sid(self, account_sid: str) -> TwilioAccount | None:
        """The account a webhook names, across tenants: Twilio's requests arrive before
        anyone knows their tenant, and the signature check needs this account's token."""
        record = await self._pool.fetchrow(
            "SELECT * FROM twilio_accounts WHERE account_sid = $1", account_sid
        )
        return self._row(record)

    async def set_number_provider(
        self, tenant_id: uuid.UUID, did: str, provider: NumberProvider
    ) -> bool:
        """Mark one of the tenant's routed numbers as carried by `provider`."""
        result = await self._pool.execute(
            "UPDATE inbound_routes SET provider = $3, updated_at = now() "
            "WHERE tenant_id = $1 AND did = $2",
            tenant_id,
            did,
            provider,
        )
        return bool(result.endswith(" 1"))

    async def routed_number(self, tenant_id: uuid.UUID, did: str) -> RoutedNumber | None:
        """The tenant's route for `did`, whoever carries it."""
        record = await self._pool.fetchrow(
            "SELECT did, agent_id, coalesce(provider, 'asterisk') AS provider "
            "FROM inbound_routes WHERE tenant_id = $1 AND did = $2",
            tenant_id,
            did,
        )
        return None if record is None else RoutedNumber(**dict(record))

    async def marked_numbers(self, tenant_id: uuid.UUID) -> list[TwilioNumber]:
        """The tenant's routes marked as carried by Twilio (whether or not it has an account)."""
        records = await self._pool.fetch(
            "SELECT tenant_id, agent_id, did FROM inbound_routes "
            "WHERE tenant_id = $1 AND provider = 'twilio' ORDER BY did",
            tenant_id,
        )
        return [TwilioNumber(**dict(record)) for record in records]

    async def twilio_number(self, tenant_id: uuid.UUID, did: str) -> TwilioNumber | None:
        """The tenant's route for `did` if Twilio carries it and the tenant has an account."""
        record = await self._pool.fetchrow(
            "SELECT r.tenant_id, r.agent_id, r.did FROM inbound_routes r "
            "JOIN twilio_accounts a ON a.tenant_id = r.tenant_id "
            "WHERE r.tenant_id = $1 AND r.did = $2 AND r.provider = 'twilio'",
            tenant_id,
            did,
        )
        return None if record is None else TwilioNumber(**dict(record))

    async def agent_twilio_number(self, tenant_id: uuid.UUID, agent_id: uuid.UUID) -> str | None:
        """The agent's first Twilio number (its caller id for outbound calls), if any."""
        did = await self._pool.fetchval(
            "SELECT r.did FROM inbound_routes r "
            "JOIN twilio_accounts a ON a.tenant_id = r.tenant_id "
            "WHERE r.tenant_id = $1 AND r.agent_id = $2 AND r.provider = 'twilio' "
            "ORDER BY r.created_at, r.did LIMIT 1",
            tenant_id,
            agent_id,
        )
        return None if did is None else str(did)
