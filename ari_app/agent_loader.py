"""From an agent row to what one call runs: `AgentSettings` with decrypted provider keys and
fresh provider instances (the production `Prepare` of `PipelineConversations`)."""

from __future__ import annotations

import dataclasses
import functools
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Final

import asyncpg
import msgspec
from redis.asyncio import Redis

from ari_app.call import Call, Direction
from ari_app.do_not_call_requests import add_callee_to_list
from media.vad import BargeInSensitivity
from pipeline.agent import AgentSettings, VoicemailAction, VoicemailPolicy
from pipeline.call_control import TransferSettings
from pipeline.do_not_call_tool import DoNotCallTool
from pipeline.dtmf_tools import CallTool
from pipeline.engine import CallProviders
from pipeline.http_tools import HttpTool
from pipeline.mcp_tools import McpServer
from pipeline.noise_suppression import NoiseSuppression
from pipeline.tool_set import combined
from pipeline.turn_taking import SmartTurnSettings, TurnDetection
from providers import builtin, registry
from providers.base import ProviderConfig, ProviderKind, url_options
from providers.stt.expected_speech import with_agent_phrases
from providers.vad.silero import VadEngine
from store.config_cache import ConfigCache, agent_cache_name, credential_cache_name
from store.models import Agent, ProviderCredential
from store.repositories.config import AgentRepository, ProviderCredentialRepository
from store.secrets import SecretBox
from store.tool_headers import runnable_tools

# What an agent that chose nothing runs: the offline defaults, no account and no network.
OFFLINE_DEFAULTS: Final = {
    ProviderKind.STT: "faster-whisper",
    ProviderKind.LLM: "scripted",
    ProviderKind.TTS: "piper",
}


class AgentNotFound(LookupError):
    """The call names an agent its tenant no longer has."""


class DestinationRefused(Exception):
    """A provider URL of the agent points where this deployment does not send requests."""


# Raises when a URL may not be connected to (the process's SSRF guard, given by its wiring).
CheckUrl = Callable[[str], Awaitable[None]]


class StoreAgentLoader:
    """Reads the agent and its provider credentials through the 60 s config cache (their
    fallback copies while PostgreSQL is unreachable); credentials are cached as stored, their
    keys encrypted, and decrypted at use."""

    def __init__(
        self, pool: asyncpg.Pool, redis: Redis, box: SecretBox, *, check_url: CheckUrl | None = None
    ) -> None:
        builtin.load_all()
        self._check_url = check_url
        self._box = box
        self._pool = pool
        self._cache = ConfigCache(redis)
        self._credentials = ProviderCredentialRepository(pool, box)

    async def __call__(self, call: Call) -> tuple[AgentSettings, CallProviders]:
        settings = await self.settings(call.tenant_id, call.agent_id)
        providers = CallProviders.for_agent(settings, registry.build, self._check_url)
        if call.direction is not Direction.OUTBOUND:
            return settings, providers
        # Whoever we call may ask us to stop: the built-in tool puts them on the list.
        stop = DoNotCallTool(functools.partial(add_callee_to_list, self._pool, call))
        return settings, dataclasses.replace(providers, tools=combined(providers.tools, stop))

    async def settings(self, tenant_id: uuid.UUID, agent_id: uuid.UUID) -> AgentSettings:
        agent = await self._cache.get_or_load(
            tenant_id,
            agent_cache_name(agent_id),
            Agent,
            lambda: AgentRepository(self._pool).get(tenant_id, agent_id),
            stale_ok=True,
        )
        if agent is None:
            raise AgentNotFound(f"agent {agent_id} not found for tenant {tenant_id}")
        return await self.settings_of(agent)

    async def for_agent(self, agent: Agent) -> tuple[AgentSettings, CallProviders]:
        """What a call with `agent` as given (a draft, say) runs, instead of the stored one."""
        settings = await self.settings_of(agent)
        return settings, CallProviders.for_agent(settings, registry.build, self._check_url)

    async def settings_of(self, agent: Agent) -> AgentSettings:
        """`agent`'s settings, its provider credentials read and decrypted."""
        tenant_id = agent.tenant_id
        message = agent.voicemail_message.strip() or None
        stt = await self._provider(tenant_id, ProviderKind.STT, agent.stt, agent.language)
        llm = await self._provider(tenant_id, ProviderKind.LLM, agent.llm, agent.language)
        return AgentSettings(
            system_prompt=agent.system_prompt,
            stt=with_agent_phrases(stt, llm, agent.system_prompt, agent.welcome_message),
            llm=llm,
            tts=await self._provider(tenant_id, ProviderKind.TTS, agent.tts, agent.language),
            welcome_message=agent.welcome_message,
            welcome_interruptible=agent.welcome_interruptible,
            language=agent.language,
            barge_in=BargeInSensitivity(agent.barge_in_sensitivity),
            end_of_speech_ms=agent.end_of_speech_ms,
            turn_detection=TurnDetection(agent.turn_detection),
            smart_turn=msgspec.convert(agent.smart_turn or {}, SmartTurnSettings),
            vad=VadEngine(agent.vad),
            noise_suppression=NoiseSuppression(agent.noise_suppression),
            voicemail=VoicemailPolicy(
                action=VoicemailAction(agent.voicemail_policy), message=message
            ),
            max_call_duration_s=agent.max_call_seconds,
            tools=msgspec.convert(runnable_tools(self._box, agent.tools), list[HttpTool]),
            mcp_servers=msgspec.convert(agent.mcp_servers, list[McpServer]),
            transfer=msgspec.convert(agent.transfer, TransferSettings),
            call_tools=[CallTool(name) for name in agent.call_tools],
        )

    async def llm_config(
        self, tenant_id: uuid.UUID, choice: dict[str, Any], language: str
    ) -> ProviderConfig:
        """An agent's LLM choice (its own, or the one its analysis names) as a registry config,
        its key decrypted and its URLs checked."""
        return await self._provider(tenant_id, ProviderKind.LLM, choice, language)

    async def _credential(
        self, tenant_id: uuid.UUID, credential_id: uuid.UUID
    ) -> ProviderCredential | None:
        return await self._cache.get_or_load(
            tenant_id,
            credential_cache_name(credential_id),
            ProviderCredential,
            lambda: self._credentials.get(tenant_id, credential_id),
            stale_ok=True,
        )

    async def _check_destinations(self, kind: ProviderKind, options: dict[str, Any]) -> None:
        """Checked at each call too: DNS may have changed, and so may the operator's mind."""
        if self._check_url is None:
            return
        for key, url in url_options(options).items():
            try:
                await self._check_url(url)
            except Exception as exc:
                raise DestinationRefused(f"the agent's {kind} {key}: {exc}") from exc

    async def _provider(
        self, tenant_id: uuid.UUID, kind: ProviderKind, choice: dict[str, Any], language: str
    ) -> ProviderConfig:
        """The agent's stored choice (see api/provider_choice.py) as a config for the registry;
        the agent's options override the credential's."""
        vendor = choice.get("vendor")
        model = choice.get("model")
        api_key = None
        options: dict[str, Any] = {}
        credential_id = choice.get("credential_id")
        if credential_id is not None:
            credential = await self._credential(tenant_id, uuid.UUID(str(credential_id)))
            if credential is None or credential.kind != kind:
                raise AgentNotFound(f"the agent's {kind} provider {credential_id} is gone")
            vendor = credential.vendor
            model = model or credential.model
            api_key = self._credentials.reveal(credential, "api_key")
            options.update(credential.options)
        options.update(choice.get("options") or {})
        await self._check_destinations(kind, options)
        return ProviderConfig(
            vendor=vendor or OFFLINE_DEFAULTS[kind],
            model=model,
            api_key=api_key,
            voice=choice.get("voice"),
            language=language,
            options=options,
        )
