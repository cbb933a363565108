"""What a call leaves behind: transcript, per-turn latencies, provider usage, outcome."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

import msgspec

from pipeline.states import CallState
from providers.base import Message, ProviderKind, ProviderUsage


class CallOutcome(StrEnum):
    """How the call ended."""

    CALLER_HUNG_UP = "caller_hung_up"
    AGENT_ENDED = "agent_ended"  # the LLM said [END_CALL]
    VOICEMAIL = "voicemail"
    IVR = "ivr"  # an automated menu answered and no person came on (answer_supervision)
    CALL_SCREENING = "call_screening"  # a call screener answered and no person came on
    MAX_DURATION = "max_duration"
    STOPPED = "stopped"  # the controller stopped the pipeline
    TRANSFERRED = "transferred"  # the caller was handed to a person (transfer_call)
    ERROR = "error"


class TranscriptEntry(msgspec.Struct, frozen=True):
    """One utterance. For the agent, `text` is what the caller heard."""

    role: Literal["caller", "agent"]
    text: str
    at_ms: int  # since the leg came up
    interrupted: bool = False
    dtmf: bool = False


class TurnMetrics(msgspec.Struct):
    """Timestamps of one turn in ms since the leg came up (None: did not happen)."""

    index: int
    end_of_speech_ms: int | None = None
    stt_final_ms: int | None = None
    llm_first_token_ms: int | None = None
    first_sentence_ms: int | None = None
    tts_first_audio_ms: int | None = None
    first_frame_out_ms: int | None = None
    barge_in_speech_ms: int | None = None  # caller speech onset that interrupted this turn
    barge_in_decided_ms: int | None = None  # policy decided to interrupt
    barge_in_cleared_ms: int | None = None  # leg cleared, no agent audio sent after
    interrupted: bool = False
    failed: bool = False
    tool_calls: int = 0  # tools the model called in this turn
    tool_ms: int = 0  # time spent waiting for them (the caller heard the fillers meanwhile)


class ProviderUsageRecord(msgspec.Struct, frozen=True):
    """Usage of one provider instance over the call."""

    kind: ProviderKind
    vendor: str
    fallback: bool
    usage: ProviderUsage
    # The model the agent chose; None: the vendor's default (prices go by it).
    model: str | None = None


class CallEvent(msgspec.Struct, frozen=True):
    """Something worth recording that is not speech: STT lifecycle, failures, barge-in ..."""

    kind: str  # e.g. stt.opened, stt.closed, stt.rejected, stt.timeout, stt.error,
    # provider.failed, barge_in, voicemail, answered_by, end_call, dtmf, max_duration
    at_ms: int
    detail: dict[str, str] = msgspec.field(default_factory=dict)


class LiveState(msgspec.Struct, frozen=True):
    """A call's live snapshot, saved after each turn and state change."""

    call_id: str
    tenant_id: str
    state: CallState
    history: list[Message]
    turns: int
    elapsed_ms: int


class CallResult(msgspec.Struct, frozen=True):
    """The final record of a call, given once to `CallSink.finish`."""

    call_id: str
    tenant_id: str
    outcome: CallOutcome
    duration_ms: int
    transcript: list[TranscriptEntry]
    turns: list[TurnMetrics]
    provider_usage: list[ProviderUsageRecord]
    events: list[CallEvent]
    voicemail_detected_by: Literal["llm", "transcript"] | None = None
    error_reason: str | None = None
