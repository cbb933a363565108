"""The provider instances (and tools) one call runs, built from its agent's configuration."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pipeline.agent import AgentSettings
from pipeline.http_tools import CheckUrl, HttpTools
from pipeline.mcp_tools import McpTools
from pipeline.tool_set import ToolSet
from pipeline.tools import ToolRunner
from providers.base import (
    LLMProvider,
    Provider,
    ProviderConfig,
    ProviderKind,
    STTProvider,
    TTSProvider,
)


@dataclass(frozen=True, slots=True)
class CallProviders:
    """Provider instances built for this call from the agent's configs (not yet connected)."""

    stt: STTProvider
    llm: LLMProvider
    tts: TTSProvider
    stt_fallback: STTProvider | None = None
    llm_fallback: LLMProvider | None = None
    tts_fallback: TTSProvider | None = None
    tools: ToolRunner | None = None

    @classmethod
    def for_agent(
        cls,
        agent: AgentSettings,
        build: Callable[[ProviderKind, ProviderConfig], Provider],
        check_url: CheckUrl | None = None,
    ) -> CallProviders:
        """Instances for one call from the agent's configs, e.g. with `providers.registry.build`;
        the agent's HTTP tools and MCP servers reach only URLs `check_url` lets through.

        Raises `TypeError` when the factory returns a provider of another kind.
        """

        def make(kind: ProviderKind, config: ProviderConfig | None) -> Provider | None:
            if config is None:
                return None
            provider = build(kind, config)
            if provider.kind is not kind:
                raise TypeError(f"{config.vendor} built a {provider.kind} provider, not {kind}")
            return provider

        def wrong(config: ProviderConfig | None) -> TypeError:
            return TypeError(f"{config.vendor if config else '?'} built the wrong provider class")

        def stt(config: ProviderConfig | None) -> STTProvider | None:
            provider = make(ProviderKind.STT, config)
            if provider is not None and not isinstance(provider, STTProvider):
                raise wrong(config)
            return provider

        def llm(config: ProviderConfig | None) -> LLMProvider | None:
            provider = make(ProviderKind.LLM, config)
            if provider is not None and not isinstance(provider, LLMProvider):
                raise wrong(config)
            return provider

        def tts(config: ProviderConfig | None) -> TTSProvider | None:
            provider = make(ProviderKind.TTS, config)
            if provider is not None and not isinstance(provider, TTSProvider):
                raise wrong(config)
            return provider

        stt_primary, llm_primary, tts_primary = stt(agent.stt), llm(agent.llm), tts(agent.tts)
        if stt_primary is None or llm_primary is None or tts_primary is None:
            raise TypeError("the agent needs STT, LLM and TTS providers")
        return cls(
            stt_primary,
            llm_primary,
            tts_primary,
            stt(agent.stt_fallback),
            llm(agent.llm_fallback),
            tts(agent.tts_fallback),
            tools_for_agent(agent, check_url),
        )


def tools_for_agent(agent: AgentSettings, check_url: CheckUrl | None) -> ToolRunner | None:
    """The call's tools from every source the agent has, or None when it has none."""
    runners: list[ToolRunner] = []
    if agent.tools:
        runners.append(HttpTools(agent.tools, check_url=check_url))
    if agent.mcp_servers:
        runners.append(McpTools(agent.mcp_servers, check_url=check_url))
    return ToolSet(runners) if runners else None
