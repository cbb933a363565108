"""What the turn engine needs to know about the agent a call runs."""

from __future__ import annotations

from enum import StrEnum

import msgspec

from media.vad import BargeInSensitivity
from pipeline.call_control import TransferSettings
from pipeline.dtmf_tools import CallTool
from pipeline.http_tools import HttpTool
from pipeline.mcp_tools import McpServer
from pipeline.noise_suppression import NoiseSuppression
from pipeline.turn_taking import SmartTurnSettings, TurnDetection
from providers.base import ProviderConfig
from providers.vad.silero import VadEngine

# Spoken from cached audio when providers fail and nothing else can answer the caller.
DEFAULT_APOLOGY = "I'm sorry, I'm having technical trouble right now. Please call again later."


class VoicemailAction(StrEnum):
    """What to do once the call reached a voicemail box."""

    HANGUP = "hangup"
    LEAVE_MESSAGE = "leave_message"


class VoicemailPolicy(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`message` is spoken (after the greeting's beep) when `action` is leave_message."""

    action: VoicemailAction = VoicemailAction.HANGUP
    message: str | None = None

    def __post_init__(self) -> None:
        if self.action is VoicemailAction.LEAVE_MESSAGE and not (self.message or "").strip():
            raise ValueError("voicemail action leave_message needs a message")


class AgentSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An agent as the pipeline sees it; provider configs carry decrypted keys."""

    system_prompt: str
    stt: ProviderConfig
    llm: ProviderConfig
    tts: ProviderConfig
    stt_fallback: ProviderConfig | None = None
    llm_fallback: ProviderConfig | None = None
    tts_fallback: ProviderConfig | None = None
    welcome_message: str = ""
    welcome_interruptible: bool = True
    language: str = "en-US"
    barge_in: BargeInSensitivity = BargeInSensitivity.MEDIUM
    # Silence that ends the caller's turn; None keeps the VAD profile's default.
    end_of_speech_ms: int | None = None
    # How the caller's turn is judged over: that silence, or `smart` (by what was said).
    turn_detection: TurnDetection = TurnDetection.SILENCE
    smart_turn: SmartTurnSettings = msgspec.field(default_factory=SmartTurnSettings)
    # What calls a frame speech: webrtcvad, or Silero (better on noisy lines, more CPU).
    vad: VadEngine = VadEngine.WEBRTC
    # What cleans the caller's audio before the VAD and the recognizer hear it.
    noise_suppression: NoiseSuppression = NoiseSuppression.OFF
    voicemail: VoicemailPolicy = msgspec.field(default_factory=VoicemailPolicy)
    apology_message: str = DEFAULT_APOLOGY
    max_call_duration_s: int = 1800
    tools: list[HttpTool] = msgspec.field(default_factory=list)
    # MCP servers whose tools the agent may use, listed when the call starts.
    mcp_servers: list[McpServer] = msgspec.field(default_factory=list)
    transfer: TransferSettings = msgspec.field(default_factory=TransferSettings)
    # Built-in tools offered to the model (keys, hang-up); see pipeline.dtmf_tools.
    call_tools: list[CallTool] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        names = [tool.name for tool in self.tools] + [tool.value for tool in self.call_tools]
        if len(set(names)) != len(names):
            raise ValueError("tool names must be unique (and not those of built-in tools)")
        servers = [server.name for server in self.mcp_servers]
        if len(set(servers)) != len(servers):
            raise ValueError("MCP server names must be unique")
        if self.end_of_speech_ms is not None and not 100 <= self.end_of_speech_ms <= 5000:
            raise ValueError("end_of_speech_ms must be between 100 and 5000")
        if not 1 <= self.max_call_duration_s <= 4 * 3600:
            raise ValueError("max_call_duration_s must be between 1 and 14400")
