"""The production `Prepare`: agent rows to pipeline settings with decrypted keys."""

from __future__ import annotations

import functools
import uuid

import asyncpg
import pytest
from redis.asyncio import Redis

from api.provider_urls import check_destination
from ari_app.agent_loader import AgentNotFound, DestinationRefused, StoreAgentLoader
from ari_app.call import Call, Direction
from media.vad import BargeInSensitivity
from pipeline.agent import VoicemailAction
from providers.llm.scripted import ScriptedLLM
from store.config_cache import ConfigCache, agent_cache_name
from store.repositories.config import AgentRepository, ProviderCredentialRepository
from store.repositories.tenants import TenantsRepository
from store.secrets import SecretBox

BOX = SecretBox("agent-loader-test-key-" + "k" * 16)


async def _tenant(pool: asyncpg.Pool) -> uuid.UUID:
    return (await TenantsRepository(pool).create(f"loader-{uuid.uuid4().hex[:8]}")).id


async def test_a_blank_agent_runs_the_offline_defaults(pg_pool: asyncpg.Pool, redis: Redis) -> None:
    tenant = await _tenant(pg_pool)
    agent = await AgentRepository(pg_pool).create(
        tenant,
        {
            "name": "front desk",
            "welcome_message": "Hi!",
            "barge_in_sensitivity": "low",
            "voicemail_policy": "leave_message",
            "voicemail_message": "Call us back.",
            "end_of_speech_ms": 600,
            "max_call_seconds": 300,
        },
    )
    loader = StoreAgentLoader(pg_pool, redis, BOX)
    call = Call(id=uuid.uuid4(), tenant_id=tenant, agent_id=agent.id, direction=Direction.INBOUND)
    settings, providers = await loader(call)
    assert (settings.stt.vendor, settings.llm.vendor, settings.tts.vendor) == (
        "pocketsphinx",
        "scripted",
        "piper",
    )
    assert settings.welcome_message == "Hi!"
    assert settings.barge_in is BargeInSensitivity.LOW
    assert settings.voicemail.action is VoicemailAction.LEAVE_MESSAGE
    assert settings.voicemail.message == "Call us back."
    assert settings.end_of_speech_ms == 600 and settings.max_call_duration_s == 300
    assert isinstance(providers.llm, ScriptedLLM)


async def test_a_credential_is_decrypted_and_its_options_merged(
    pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    tenant = await _tenant(pg_pool)
    credential = await ProviderCredentialRepository(pg_pool, BOX).create(
        tenant,
        {
            "name": "local llm",
            "kind": "llm",
            "vendor": "openai_compatible",
            "api_key": "sk-local",
            "model": "llama",
            "options": {"base_url": "http://127.0.0.1:9/v1", "temperature": 0.2},
        },
    )
    agent = await AgentRepository(pg_pool).create(
        tenant,
        {
            "name": "llm agent",
            "llm": {"credential_id": str(credential.id), "options": {"temperature": 0.7}},
        },
    )
    settings = await StoreAgentLoader(pg_pool, redis, BOX).settings(tenant, agent.id)
    assert settings.llm.vendor == "openai_compatible"
    assert settings.llm.api_key == "sk-local"
    assert settings.llm.model == "llama"
    assert settings.llm.options == {"base_url": "http://127.0.0.1:9/v1", "temperature": 0.7}


async def test_the_cache_serves_until_invalidated(pg_pool: asyncpg.Pool, redis: Redis) -> None:
    tenant = await _tenant(pg_pool)
    repo = AgentRepository(pg_pool)
    agent = await repo.create(tenant, {"name": "cached", "system_prompt": "v1"})
    loader = StoreAgentLoader(pg_pool, redis, BOX)
    assert (await loader.settings(tenant, agent.id)).system_prompt == "v1"
    await repo.update(tenant, agent.id, {"system_prompt": "v2"})
    assert (await loader.settings(tenant, agent.id)).system_prompt == "v1"
    await ConfigCache(redis).invalidate(tenant, agent_cache_name(agent.id))
    assert (await loader.settings(tenant, agent.id)).system_prompt == "v2"


async def test_another_tenants_agent_is_not_found(pg_pool: asyncpg.Pool, redis: Redis) -> None:
    owner, other = await _tenant(pg_pool), await _tenant(pg_pool)
    agent = await AgentRepository(pg_pool).create(owner, {"name": "mine"})
    with pytest.raises(AgentNotFound):
        await StoreAgentLoader(pg_pool, redis, BOX).settings(other, agent.id)


async def _internal_agent(pool: asyncpg.Pool) -> tuple[uuid.UUID, uuid.UUID]:
    tenant = await _tenant(pool)
    agent = await AgentRepository(pool).create(
        tenant,
        {"name": "internal", "llm": {"vendor": "openai_compatible",
                                     "options": {"base_url": "http://169.254.169.254/v1"}}},
    )  # fmt: skip
    return tenant, agent.id


def _guarded_loader(pool: asyncpg.Pool, redis: Redis, *, allow_private: bool) -> StoreAgentLoader:
    check = functools.partial(check_destination, allow_private=allow_private)
    return StoreAgentLoader(pool, redis, BOX, check_url=check)


async def test_a_provider_url_into_the_deployment_is_refused_at_call_time(
    pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    """Saved while the operator allowed it (or before the guard existed): each call checks
    again, with the process's guard, before any provider connects."""
    tenant, agent_id = await _internal_agent(pg_pool)
    loader = _guarded_loader(pg_pool, redis, allow_private=False)
    with pytest.raises(DestinationRefused, match=r"llm base_url: .*non-public address"):
        await loader.settings(tenant, agent_id)


async def test_the_operator_may_allow_private_provider_urls(
    pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    tenant, agent_id = await _internal_agent(pg_pool)
    settings = await _guarded_loader(pg_pool, redis, allow_private=True).settings(tenant, agent_id)
    assert settings.llm.options["base_url"] == "http://169.254.169.254/v1"
