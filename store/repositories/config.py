"""Repositories for a tenant's configuration: agents, providers, trunks, routes, webhooks, keys,
users."""

from __future__ import annotations

import uuid

import asyncpg

from store.models import (
    Agent,
    ApiKey,
    InboundRoute,
    ProviderCredential,
    SipTrunk,
    User,
    Webhook,
)
from store.numbers import normalize_number
from store.repositories.base import Conflict, TenantRepository


class AgentRepository(TenantRepository[Agent]):
    table = "agents"
    row_type = Agent
    writable = frozenset(
        {
            "name",
            "system_prompt",
            "welcome_message",
            "welcome_interruptible",
            "language",
            "stt",
            "llm",
            "tts",
            "barge_in_sensitivity",
            "end_of_speech_ms",
            "voicemail_policy",
            "voicemail_message",
            "max_call_seconds",
            "recording_enabled",
            "recording_retention_days",
            "media_transport",
            "tools",
            "mcp_servers",
            "transfer",
            "analysis",
            "turn_detection",
            "smart_turn",
            "call_tools",
            "vad",
            "noise_suppression",
        }
    )
    filterable = frozenset({"name", "language"})
    sortable = frozenset({"created_at", "updated_at", "name"})

    async def names_using_credential(
        self, tenant_id: uuid.UUID, credential_id: uuid.UUID
    ) -> list[str]:
        """The agents whose STT, LLM or TTS is the stored provider `credential_id`."""
        rows = await self._pool.fetch(
            "SELECT name FROM agents WHERE tenant_id = $1 AND $2 IN "
            "(stt->>'credential_id', llm->>'credential_id', tts->>'credential_id', "
            "analysis->'llm'->>'credential_id') ORDER BY name",
            tenant_id,
            str(credential_id),
        )
        return [str(r["name"]) for r in rows]


class ProviderCredentialRepository(TenantRepository[ProviderCredential]):
    table = "provider_credentials"
    row_type = ProviderCredential
    writable = frozenset({"name", "kind", "vendor", "api_key", "api_key_last4", "model", "options"})
    filterable = frozenset({"kind", "vendor"})
    sortable = frozenset({"created_at", "updated_at", "name", "kind", "vendor"})
    encrypted = frozenset({"api_key"})


class SipTrunkRepository(TenantRepository[SipTrunk]):
    table = "sip_trunks"
    row_type = SipTrunk
    writable = frozenset(
        {
            "name",
            "kind",
            "host",
            "port",
            "transport",
            "username",
            "password",
            "from_user",
            "from_domain",
            "codecs",
            "dtmf_mode",
            "max_cps",
            "max_calls",
        }
    )
    filterable = frozenset({"kind", "host", "name"})
    sortable = frozenset({"created_at", "updated_at", "name", "host"})
    encrypted = frozenset({"password"})

    async def list_all_tenants(self) -> list[SipTrunk]:
        """Every trunk of every tenant: provisioning renders them into one Asterisk config."""
        records = await self._pool.fetch(f"SELECT * FROM {self.table} ORDER BY created_at, id")
        return [row for row in map(self._row, records) if row is not None]


class InboundRouteRepository(TenantRepository[InboundRoute]):
    table = "inbound_routes"
    row_type = InboundRoute
    writable = frozenset({"did", "agent_id", "trunk_id"})
    filterable = frozenset({"did", "agent_id", "trunk_id"})
    sortable = frozenset({"created_at", "did"})

    async def list_all_tenants(self) -> list[InboundRoute]:
        """Every route of every tenant: provisioning renders them into one dialplan."""
        records = await self._pool.fetch(f"SELECT * FROM {self.table} ORDER BY did")
        return [row for row in map(self._row, records) if row is not None]

    async def resolve_did(self, did: str) -> InboundRoute | None:
        """The route of a dialled number, across tenants: the entry point of an inbound call,
        which arrives before anyone knows its tenant. DIDs are unique across tenants."""
        record = await self._pool.fetchrow(
            f"SELECT * FROM {self.table} WHERE did = $1", normalize_number(did)
        )
        return self._row(record)

    async def replace_for_agent(
        self, tenant_id: uuid.UUID, agent_id: uuid.UUID, dids: list[str]
    ) -> list[InboundRoute]:
        """Make `dids` exactly the numbers routed to the agent, in one transaction. A number
        that stays keeps its trunk and its carrier (Asterisk or Twilio)."""
        async with self._pool.acquire() as conn, conn.transaction():
            removed = await conn.fetch(
                f"DELETE FROM {self.table} WHERE tenant_id = $1 AND agent_id = $2 "
                "RETURNING did, trunk_id, provider",
                tenant_id,
                agent_id,
            )
            kept = {r["did"]: r for r in removed}
            rows = []
            for did in map(normalize_number, dids):
                old = kept.get(did)
                record = await self._insert_route(
                    conn,
                    tenant_id,
                    agent_id,
                    did,
                    trunk_id=None if old is None else old["trunk_id"],
                    provider=None if old is None else old["provider"],
                )
                route = self._row(record)
                assert route is not None
                rows.append(route)
            return rows

    async def _insert_route(
        self,
        conn: asyncpg.pool.PoolConnectionProxy[asyncpg.Record],
        tenant_id: uuid.UUID,
        agent_id: uuid.UUID,
        did: str,
        *,
        trunk_id: uuid.UUID | None,
        provider: str | None,
    ) -> asyncpg.Record:
        try:
            record = await conn.fetchrow(
                f"INSERT INTO {self.table} (id, tenant_id, did, agent_id, trunk_id, provider) "
                "VALUES ($1, $2, $3, $4, $5, coalesce($6, 'asterisk')) RETURNING *",
                uuid.uuid4(),
                tenant_id,
                did,
                agent_id,
                trunk_id,
                provider,
            )
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(f"number {did} is already routed", exc.constraint_name) from exc
        except asyncpg.ForeignKeyViolationError as exc:
            raise Conflict("agent does not exist", exc.constraint_name) from exc
        assert record is not None
        return record


class WebhookRepository(TenantRepository[Webhook]):
    table = "webhooks"
    row_type = Webhook
    writable = frozenset({"url", "events", "secret", "active"})
    filterable = frozenset({"active"})
    sortable = frozenset({"created_at", "url"})
    encrypted = frozenset({"secret"})

    async def subscribed(self, tenant_id: uuid.UUID, event_type: str) -> list[Webhook]:
        records = await self._pool.fetch(
            f"SELECT * FROM {self.table} WHERE tenant_id = $1 AND active AND $2 = ANY(events)",
            tenant_id,
            event_type,
        )
        return [row for row in map(self._row, records) if row is not None]


class ApiKeyRepository(TenantRepository[ApiKey]):
    table = "api_keys"
    row_type = ApiKey
    writable = frozenset({"name", "prefix", "key_hash", "role", "rpm", "rpd", "revoked_at"})
    filterable = frozenset({"name"})
    sortable = frozenset({"created_at", "name"})

    async def find_by_prefix(self, prefix: str) -> ApiKey | None:
        """The key presented in a request, before its tenant is known (authentication)."""
        record = await self._pool.fetchrow(f"SELECT * FROM {self.table} WHERE prefix = $1", prefix)
        return self._row(record)

    async def touch(self, tenant_id: uuid.UUID, key_id: uuid.UUID) -> None:
        await self._pool.execute(
            f"UPDATE {self.table} SET last_used_at = now() WHERE tenant_id = $1 AND id = $2",
            tenant_id,
            key_id,
        )


class UserRepository(TenantRepository[User]):
    table = "users"
    row_type = User
    writable = frozenset({"email", "password_hash", "role"})
    filterable = frozenset({"role", "email"})
    sortable = frozenset({"created_at", "email"})

    async def find_for_login(self, email: str) -> User | None:
        """The user signing in, before their tenant is known (authentication)."""
        record = await self._pool.fetchrow(
            f"SELECT * FROM {self.table} WHERE lower(email) = lower($1)", email
        )
        return self._row(record)
