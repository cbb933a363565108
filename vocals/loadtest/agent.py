"""The load-test tenant and agent, written straight into the server's database.

`vocals loadtest` runs on the server's machine with the server's settings (as `vocals admin`
does), so it reaches the same PostgreSQL and Redis: no API user or key has to exist first, and
the agent's DID route is written in the same step. Re-running reuses the tenant and agent and
updates the providers' latencies; the server's cached copies are invalidated.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any, Final

import asyncpg
import msgspec
from redis.asyncio import Redis

from ari_app.agent_loader import OFFLINE_DEFAULTS
from store.config_cache import ConfigCache, agent_cache_name, did_cache_name
from store.repositories.base import Conflict
from store.repositories.config import AgentRepository, InboundRouteRepository
from store.repositories.tenants import TenantsRepository
from store.repositories.twilio import (
    ACCOUNT_CACHE_NAME,
    TwilioAccountRepository,
    account_sid_cache_name,
    number_cache_name,
)
from store.secrets import SecretBox
from vocals.loadtest.config import LoadTestConfig

TENANT_NAME: Final = "loadtest"
AGENT_NAME: Final = "loadtest"
WELCOME: Final = "Hello, this is the load test agent."


class TwilioAccount(msgspec.Struct, frozen=True):
    """The load-test tenant's (simulated) Twilio account."""

    account_sid: str
    auth_token: str


class AgentSetupError(Exception):
    """The load-test agent cannot be set up (e.g. its DID belongs to another tenant)."""


# The offline defaults, as an agent that chose nothing gets them (ari_app/agent_loader.py).
OFFLINE_PROVIDERS: Final = {
    kind.value: {"vendor": vendor} for kind, vendor in OFFLINE_DEFAULTS.items()
}


def agent_values(config: LoadTestConfig) -> dict[str, Any]:
    """The agent's columns: load-test providers with the configured latencies, or the
    offline defaults."""
    lat = config.latencies
    providers = (
        OFFLINE_PROVIDERS
        if config.providers == "offline"
        else {
            "stt": {"vendor": "loadtest", "options": {"stt_delay_ms": lat.stt_delay_ms}},
            "llm": {
                "vendor": "loadtest",
                "options": {
                    "first_token_ms": lat.first_token_ms,
                    "token_interval_ms": lat.token_interval_ms,
                    "reply": lat.reply,
                },
            },
            "tts": {
                "vendor": "loadtest",
                "options": {
                    "ttfb_ms": lat.ttfb_ms,
                    "seconds_per_sentence": lat.seconds_per_sentence,
                },
            },
        }
    )
    return {
        "name": AGENT_NAME,
        "system_prompt": "Load test agent.",
        "welcome_message": WELCOME,
        "welcome_interruptible": True,
        **providers,
        "barge_in_sensitivity": config.barge_in,
        "end_of_speech_ms": config.end_of_speech_ms,
    }


async def ensure_agent(
    pool: asyncpg.Pool, redis: Redis, config: LoadTestConfig
) -> tuple[uuid.UUID, uuid.UUID]:
    """Create or update the load-test tenant and agent and route `config.did` to it."""
    tenants = TenantsRepository(pool)
    tenant = await tenants.find_by_name(TENANT_NAME)
    if tenant is None:
        try:
            tenant = await tenants.create(TENANT_NAME)
        except Conflict:  # another run created it meanwhile
            tenant = await tenants.find_by_name(TENANT_NAME)
    assert tenant is not None
    agents = AgentRepository(pool)
    page = await agents.list_page(tenant.id, filters={"name": AGENT_NAME}, limit=1)
    values = agent_values(config)
    if page.items:
        agent = await agents.update(tenant.id, page.items[0].id, values)
    else:
        agent = await agents.create(tenant.id, values)
    assert agent is not None
    routes = InboundRouteRepository(pool)
    try:
        await routes.replace_for_agent(tenant.id, agent.id, [config.did])
    except Conflict as exc:
        raise AgentSetupError(
            f"{config.did} is routed to another tenant's agent; pick another with --did"
        ) from exc
    cache = ConfigCache(redis)
    await cache.invalidate(tenant.id, agent_cache_name(agent.id), number_cache_name(config.did))
    await cache.invalidate(None, did_cache_name(config.did))
    return tenant.id, agent.id


async def ensure_twilio_number(
    pool: asyncpg.Pool, redis: Redis, box: SecretBox, tenant_id: uuid.UUID, did: str
) -> TwilioAccount:
    """Give the load-test tenant a Twilio account (once) and let Twilio carry `did`."""
    accounts = TwilioAccountRepository(pool, box)
    row = await accounts.for_tenant(tenant_id)
    if row is None:
        account_sid = "AC" + uuid.uuid4().hex
        token = secrets.token_hex(16)
        await accounts.create(tenant_id, {"account_sid": account_sid, "auth_token": token})
    else:
        account_sid = row.account_sid
        token = accounts.reveal(row, "auth_token") or ""
    await accounts.set_number_provider(tenant_id, did, "twilio")
    cache = ConfigCache(redis)
    await cache.invalidate(tenant_id, ACCOUNT_CACHE_NAME, number_cache_name(did))
    await cache.invalidate(None, account_sid_cache_name(account_sid))
    return TwilioAccount(account_sid, token)
