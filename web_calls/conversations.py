"""The pipeline for browser calls: the agent as stored or, for an admin's test, as drafted;
the store's sink plus a live feed to the page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ari_app.agent_loader import StoreAgentLoader
from ari_app.call import Call
from ari_app.pipeline_runner import PipelineConversations, SinkFactory
from pipeline.agent import AgentSettings
from pipeline.engine import CallProviders
from pipeline.sink import CallSink
from providers.base import TTSProvider
from web_calls.live_feed import LiveFeedSink
from web_calls.session import LiveWebCalls


def web_conversations(
    loader: StoreAgentLoader,
    live: LiveWebCalls,
    sink_for: SinkFactory,
    *,
    tts_for_voicemail: Callable[[Call], Awaitable[TTSProvider]] | None = None,
) -> PipelineConversations:
    async def prepare(call: Call) -> tuple[AgentSettings, CallProviders]:
        draft = live.drafts.get(call.id)
        return await (loader(call) if draft is None else loader.for_agent(draft))

    def feed(call: Call) -> CallSink:
        inner = sink_for(call)
        leg = live.legs.get(call.id)
        return inner if leg is None else LiveFeedSink(inner, leg)

    return PipelineConversations(prepare, sink_for=feed, tts_for_voicemail=tts_for_voicemail)
