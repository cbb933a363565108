"""The per-call turn engine: inbound audio -> VAD/STT -> LLM -> sentences -> TTS -> outbound.

Wiring for a call controller::

    providers = CallProviders.for_agent(agent, registry.build)
    pipeline = CallPipeline(
        call=CallInfo(call_id, tenant_id, direction="outbound"), agent=agent,
        providers=providers, leg=leg, sink=my_sink,
    )
    await pipeline.prepare()  # while the media channel is being set up (optional)
    result = await pipeline.run()  # once the leg is up; pipeline.stop() ends it early

`prewarm_agent(agent, tts, leg_format)` fills the process-wide speech cache (welcome,
apology, voicemail message) so the welcome's first frame leaves within a tick of `run()`.
"""

from pipeline.agent import AgentSettings, VoicemailAction, VoicemailPolicy
from pipeline.engine import CallInfo, CallPipeline, CallProviders
from pipeline.records import (
    CallEvent,
    CallOutcome,
    CallResult,
    LiveState,
    ProviderUsageRecord,
    TranscriptEntry,
    TurnMetrics,
)
from pipeline.sink import CallSink, MemorySink
from pipeline.speech_cache import SPEECH_CACHE, SpeechCache, prewarm_agent
from pipeline.states import CallState, Timeouts

__all__ = [
    "SPEECH_CACHE",
    "AgentSettings",
    "CallEvent",
    "CallInfo",
    "CallOutcome",
    "CallPipeline",
    "CallProviders",
    "CallResult",
    "CallSink",
    "CallState",
    "LiveState",
    "MemorySink",
    "ProviderUsageRecord",
    "SpeechCache",
    "Timeouts",
    "TranscriptEntry",
    "TurnMetrics",
    "VoicemailAction",
    "VoicemailPolicy",
    "prewarm_agent",
]
