"""A tenant's Twilio account and which of its numbers are Twilio numbers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

import msgspec

from store.repositories.base import TenantRepository

NumberProvider = Literal["asterisk", "twilio"]


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
