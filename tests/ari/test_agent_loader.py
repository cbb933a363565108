"""The production `Prepare`: agent rows to pipeline settings with decrypted keys, read through
the config cache (and its fallback copies while PostgreSQL is cut)."""

from __future__ import annotations

import functools
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from redis.asyncio import Redis

from api.provider_urls import check_destination
from ari_app.agent_loader import AgentNotFound, DestinationRefused, StoreAgentLoader
from ari_app.call import Call, Direction
from media.vad import BargeInSensitivity
from pipeline.agent import VoicemailAction
from providers.llm.scripted import ScriptedLLM
from store.config_cache import (
    STORE_UNAVAILABLE,
    ConfigCache,
    agent_cache_name,
    credential_cache_name,
)
from store.db import create_pool
from store.repositories.config import AgentRepository, ProviderCredentialRepository
from store.repositories.tenants import TenantsRepository
from store.secrets import SecretBox
from tests.store.tcp_proxy import TcpProxy

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
        "faster-whisper",
        "scripted",
        "piper",
    )
    assert settings.welcome_message == "Hi!"
    assert settings.barge_in is BargeInSensitivity.LOW
    assert settings.voicemail.action is VoicemailAction.LEAVE_MESSAGE
    assert settings.voicemail.message == "Call us back."
    assert settings.end_of_speech_ms == 600 and settings.max_call_duration_s == 300
    assert isinstance(providers.llm, ScriptedLLM)


async def test_the_recognizer_is_told_what_the_agent_expects_to_hear(
    pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    tenant = await _tenant(pg_pool)
    repository = AgentRepository(pg_pool)
    flow = {
        "intents": [
            {
                "name": "parcel",
                "patterns": [r"\b(parcel|delivery)\b"],
                "responses": ["Your {item} is on its way."],
            }
        ],
        "variables": {"item": "sofa"},
    }
    scripted = await repository.create(
        tenant,
        {
            "name": "courier",
            "system_prompt": "You answer for Brightside Logistics.",
            "welcome_message": "Brightside, hello!",
            "stt": {"vendor": "pocketsphinx"},
            "llm": {"vendor": "scripted", "options": flow},
        },
    )
    chosen = await repository.create(
        tenant, {"name": "own words", "stt": {"vendor": "pocketsphinx", "options": {"phrases": []}}}
    )
    loader = StoreAgentLoader(pg_pool, redis, BOX)
    phrases = (await loader.settings(tenant, scripted.id)).stt.options["phrases"]
    assert {"parcel", "delivery", "Your sofa is on its way.", "Brightside Logistics"} <= set(
        phrases
    )
    assert "thank you" in phrases  # what any caller says, beside the flow's own words
    assert (await loader.settings(tenant, chosen.id)).stt.options["phrases"] == []


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


async def test_with_postgres_cut_the_last_known_agent_and_credential_still_load(
    database_url: str, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    tenant = await _tenant(pg_pool)
    credential = await ProviderCredentialRepository(pg_pool, BOX).create(
        tenant, {"name": "llm", "kind": "llm", "vendor": "openai_compatible", "api_key": "sk-cut"}
    )
    agent = await AgentRepository(pg_pool).create(
        tenant, {"name": "cut", "system_prompt": "v1", "llm": {"credential_id": str(credential.id)}}
    )
    never_loaded = await AgentRepository(pg_pool).create(tenant, {"name": "never loaded"})
    target = urlsplit(database_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await proxy.start()
    host = target.netloc.rpartition(":")[0] if target.port else target.netloc
    pool = await create_pool(urlunsplit(target._replace(netloc=f"{host}:{proxy.port}")))
    try:
        loader = StoreAgentLoader(pool, redis, BOX)
        await loader.settings(tenant, agent.id)
        # The 60 s entries have run out; only the fallback copies are left.
        await redis.delete(
            f"vocals:cache:{tenant}:{agent_cache_name(agent.id)}",
            f"vocals:cache:{tenant}:{credential_cache_name(credential.id)}",
        )
        await proxy.stop()
        settings = await loader.settings(tenant, agent.id)
        assert settings.system_prompt == "v1" and settings.llm.api_key == "sk-cut"
        with pytest.raises(STORE_UNAVAILABLE):
            await loader.settings(tenant, never_loaded.id)
    finally:
        await proxy.stop()
        await pool.close()
    stored = await redis.get(
        f"vocals:cache:{tenant}:{credential_cache_name(credential.id)}:fallback"
    )
    assert stored is not None and b"sk-cut" not in stored  # kept as stored: encrypted


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
