"""The controller's ports over store/: agents by DID from PostgreSQL through the Redis config
cache, live state in Redis, final records through the record writer (PostgreSQL, or the Redis
outbox when it is down)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec
from redis.asyncio import Redis

from ari_app.admission import local_call_weight
from ari_app.agent_loader import OFFLINE_DEFAULTS
from ari_app.call import Call, CallStatus
from ari_app.ports import AgentRoute, MediaTransport
from ari_app.record_format import stage_latencies, stored_turns, stored_usage
from pipeline.agent import VoicemailAction, VoicemailPolicy
from pipeline.records import CallEvent as PipelineEvent
from pipeline.records import CallResult, LiveState, TranscriptEntry, TurnMetrics
from providers.base import ProviderKind
from store.call_records import CallRecordWriter
from store.config_cache import ConfigCache, agent_cache_name, did_cache_name
from store.live_calls import LiveCallStore
from store.models import Agent, CallRecord, InboundRoute
from store.repositories.calls import SttEventRepository
from store.repositories.config import AgentRepository, InboundRouteRepository

# The STT connection events the stt_events table keeps (its CHECK constraint).
STT_EVENT_KINDS = frozenset({"opened", "closed", "rejected", "timeout", "error"})
# Vendors whose model runs on this machine's CPU (the offline recognizer and voice, which an
# agent that chose no vendor gets); an agent with any of them is a local-model call for
# admission control.
LOCAL_MODEL_VENDORS = frozenset({"pocketsphinx", "faster-whisper", "piper"})
# VAD engines that run a model in the local workers (webrtcvad is a few µs on the loop).
LOCAL_MODEL_VADS = frozenset({"silero"})


def _local_weight(agent: Agent) -> float:
    """What the agent's calls count for against the local-model limit; 0: no local model.
    A choice with no vendor and no credential is an offline default, local too; a VAD model
    in the local workers makes the call local whatever its vendors."""
    local = agent.vad in LOCAL_MODEL_VADS or any(
        not choice.get("credential_id")
        and (not choice.get("vendor") or choice["vendor"] in LOCAL_MODEL_VENDORS)
        for choice in (agent.stt, agent.tts)
    )
    if not local:
        return 0.0
    recognizer = agent.stt.get("vendor") or OFFLINE_DEFAULTS[ProviderKind.STT]
    return local_call_weight(str(recognizer))


def _media(agent: Agent, default: MediaTransport) -> MediaTransport:
    """The agent's own transport when it chose one, else the process default."""
    if agent.media_transport == "rtp":
        return "rtp"
    if agent.media_transport == "audiosocket":
        return "audiosocket"
    return default


def _route(agent: Agent, media: MediaTransport) -> AgentRoute:
    action = VoicemailAction(agent.voicemail_policy)
    message = agent.voicemail_message or None
    if action is VoicemailAction.LEAVE_MESSAGE and message is None:
        action = VoicemailAction.HANGUP  # a policy without a message cannot be followed
    return AgentRoute(
        tenant_id=agent.tenant_id,
        agent_id=agent.id,
        media=_media(agent, media),
        recording=agent.recording_enabled,
        voicemail=VoicemailPolicy(action=action, message=message),
        local_weight=_local_weight(agent),
    )


class StoreAgentDirectory:
    """`AgentDirectory` over the agents and inbound_routes tables, read through the config
    cache (the API invalidates it on changes); while PostgreSQL is unreachable the cache's
    fallback copies answer, so a number that took calls before still does. `media` is the
    transport of agents that did not choose one."""

    def __init__(
        self, pool: asyncpg.Pool, redis: Redis, *, media: MediaTransport = "audiosocket"
    ) -> None:
        self._agents = AgentRepository(pool)
        self._routes = InboundRouteRepository(pool)
        self._cache = ConfigCache(redis)
        self._media = media

    async def route_for_did(self, did: str) -> AgentRoute | None:
        route = await self._cache.get_or_load(
            None,
            did_cache_name(did),
            InboundRoute,
            lambda: self._routes.resolve_did(did),
            stale_ok=True,
        )
        if route is None:
            return None
        return await self.route_for_agent(route.tenant_id, route.agent_id)

    async def route_for_agent(self, tenant_id: uuid.UUID, agent_id: uuid.UUID) -> AgentRoute | None:
        agent = await self._cache.get_or_load(
            tenant_id,
            agent_cache_name(agent_id),
            Agent,
            lambda: self._agents.get(tenant_id, agent_id),
            stale_ok=True,
        )
        return None if agent is None else _route(agent, self._media)


def _at(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def call_record(call: Call, result: CallResult | None) -> CallRecord:
    """The PostgreSQL record of a finished call."""
    answered = call.time_of(CallStatus.ANSWERED)
    ended = call.time_of(call.status)
    first = min(call.status_times.values())
    extra: dict[str, Any] = {"status_times": call.status_times}
    if call.amd_status is not None:
        extra["amd"] = {"status": call.amd_status, "cause": call.amd_cause}
    if call.hangup_cause is not None:
        extra["hangup_cause"] = call.hangup_cause
    transcript: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    usage: dict[str, Any] = {}
    error = call.error
    if result is not None:
        transcript = msgspec.to_builtins(result.transcript)
        turns = stored_turns(result)
        events = msgspec.to_builtins(result.events)
        usage = stored_usage(result)
        # The pipeline's own reason names the cause: a failure it ended the call for also
        # ends the media channel, which the controller may have noted first.
        error = result.error_reason or error
    return CallRecord(
        id=call.id,
        tenant_id=call.tenant_id,
        agent_id=call.agent_id,
        trunk_id=call.trunk_id,
        direction=call.direction.value,
        from_number=call.from_number,
        to_number=call.to_number,
        status=call.status.value,
        outcome=call.outcome,
        queued_at=_at(call.time_of(CallStatus.QUEUED)),
        started_at=_at(first),
        answered_at=_at(answered),
        ended_at=_at(ended),
        duration_ms=None if answered is None or ended is None else int((ended - answered) * 1000),
        transcript=transcript,
        turns=turns,
        events=events,
        provider_usage=usage,
        variables={**call.metadata, **extra},
        error_reason=error,
        recording_path=call.recording_path,
    )


class StoreCallLedger:
    """`CallLedger`: live status in Redis while the call runs, the record at the end."""

    def __init__(self, live: LiveCallStore, records: CallRecordWriter) -> None:
        self._live = live
        self._records = records
        self._started: set[uuid.UUID] = set()

    async def save(self, call: Call) -> None:
        fields = {
            "status": call.status.value,
            "status_times": call.status_times,
            "direction": call.direction.value,
            "agent_id": str(call.agent_id),
            "from_number": call.from_number,
            "to_number": call.to_number,
            "channel_id": call.channel_id,
        }
        if call.id not in self._started:
            self._started.add(call.id)
            await self._live.start(call.tenant_id, call.id, fields)
        else:
            await self._live.update(call.id, fields)

    async def hold(self, call: Call, *, channels: list[str], bridges: list[str]) -> None:
        await self._live.update(call.id, {"channels": channels, "bridges": bridges})

    async def finish(self, call: Call, result: CallResult | None) -> None:
        await self._records.save(call_record(call, result))
        self._started.discard(call.id)
        await self._live.end(call.tenant_id, call.id)


class StoreCallSink:
    """`CallSink` of one call: transcript, turns and tool calls appended to its live history in
    Redis as they happen (what a dashboard or `vocals demo` follows), STT connection events into
    PostgreSQL. The final record is written by the ledger, not here."""

    def __init__(self, call: Call, live: LiveCallStore, stt_events: SttEventRepository) -> None:
        self._call = call
        self._live = live
        self._stt_events = stt_events

    async def on_transcript(self, entry: TranscriptEntry) -> None:
        await self._live.append_history(
            self._call.id, {"type": "transcript", **msgspec.to_builtins(entry)}
        )

    async def on_turn(self, metrics: TurnMetrics) -> None:
        await self._live.append_history(
            self._call.id,
            {"type": "turn", **msgspec.to_builtins(metrics), "latency": stage_latencies(metrics)},
        )

    async def on_event(self, event: PipelineEvent) -> None:
        if event.kind == "tool.call":  # shown live with the turns (`vocals demo` prints it)
            await self._live.append_history(
                self._call.id, {"type": "tool", "at_ms": event.at_ms, **event.detail}
            )
            return
        kind = event.kind.removeprefix("stt.")
        if event.kind.startswith("stt.") and kind in STT_EVENT_KINDS:
            await self._stt_events.record(
                self._call.tenant_id,
                self._call.id,
                kind,
                event.detail.get("vendor", ""),
                event.detail.get("error", ""),
            )

    async def save_live_state(self, state: LiveState) -> None:
        await self._live.update(
            self._call.id,
            {"state": state.state.value, "turns": state.turns, "elapsed_ms": state.elapsed_ms},
        )

    async def finish(self, result: CallResult) -> None:
        """Nothing to do: `StoreCallLedger.finish` writes the record with the call's status."""
