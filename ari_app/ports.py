"""What the call controller needs from the rest of Vocals, as Protocols.

`store_adapters` and `pipeline_runner` implement them over store/ and pipeline/; tests can
pass anything with the same shape.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal, Protocol

import msgspec

from ari_app.call import Call
from media.leg import MediaLeg
from pipeline.agent import VoicemailPolicy
from pipeline.call_control import CallControl
from pipeline.dtmf_tools import DtmfPort
from pipeline.records import CallResult
from store.outbound_queue import OutboundJob

MediaTransport = Literal["audiosocket", "rtp"]


class AgentRoute(msgspec.Struct, kw_only=True, frozen=True):
    """The agent that answers a DID (or places an outbound call) and how its media flows."""

    tenant_id: uuid.UUID
    agent_id: uuid.UUID
    media: MediaTransport = "audiosocket"
    recording: bool = False  # record both directions of the call
    voicemail: VoicemailPolicy = msgspec.field(default_factory=VoicemailPolicy)
    # Runs a CPU-bound model on this machine (offline recognizer or voice, Silero VAD): admitted
    # against the process's lower limit for such calls, by this weight (0: no local model; see
    # `ari_app.admission.local_call_weight`).
    local_weight: float = 0.0


class AgentDirectory(Protocol):
    async def route_for_did(self, did: str) -> AgentRoute | None:
        """The agent for a dialled number, or None when no agent has it."""

    async def route_for_agent(self, tenant_id: uuid.UUID, agent_id: uuid.UUID) -> AgentRoute | None:
        """The route of an outbound call's agent, or None when the agent is gone."""


class Conversations(Protocol):
    async def converse(
        self,
        call: Call,
        leg: MediaLeg,
        control: CallControl | None = None,
        dtmf: DtmfPort | None = None,
    ) -> CallResult:
        """Run the agent on the leg until the call ends ([END_CALL], the leg closes, a
        transfer through `control`, error); `dtmf` sends keys to the far end when the
        transport can. Cancelling it stops the conversation; it must still finish cleanly."""

    async def leave_voicemail(self, call: Call, leg: MediaLeg, message: str) -> CallResult:
        """Speak `message` into a voicemail box and return once it has played; the result
        records whether it went out and was heard to its end."""


class CallLedger(Protocol):
    async def save(self, call: Call) -> None:
        """Live state after each status change."""

    async def hold(self, call: Call, *, channels: list[str], bridges: list[str]) -> None:
        """The Asterisk channels and bridges the call is about to hold, kept with its live
        state so that a survivor can release them if this process dies."""

    async def finish(self, call: Call, result: CallResult | None) -> None:
        """The final record (status, times, transcript when a conversation ran)."""


CallEventType = Literal[
    "call.started",
    "call.answered",
    "call.transferred",
    "call.ended",
    "call.failed",
    "voicemail.detected",
    "call.analyzed",
]


class CallEvent(msgspec.Struct, kw_only=True, frozen=True):
    """One lifecycle event of one call. `id` is the same however often it is published, so
    receivers (and the webhook queue) can drop repeats."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    type: CallEventType
    payload: dict[str, Any]


class CallEventSink(Protocol):
    async def publish(self, event: CallEvent) -> None:
        """Announce `event` (webhooks, live dashboards). Must be idempotent per `event.id`:
        it is published again when an earlier attempt raised."""


class OutboundCarrier(Protocol):
    """A way to place queued calls besides this process's Asterisk (Twilio's API, say)."""

    async def handles(self, job: OutboundJob) -> bool:
        """True when this carrier places `job`."""

    async def place(self, job: OutboundJob) -> Call:
        """Dial `job`; a refusal is recorded as a failed call, not raised."""
