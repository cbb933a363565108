"""The per-call state machine and every timeout the turn engine applies, in one place."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CallState(StrEnum):
    """Where a call is.

    GREETING: the welcome message plays. LISTENING: waiting for the caller. THINKING: a turn
    started, no agent audio has left yet. SPEAKING: agent audio is going out. ENDING: hanging
    up. ENDED: the record is written.
    """

    GREETING = "greeting"
    LISTENING = "listening"
    THINKING = "thinking"
    SPEAKING = "speaking"
    ENDING = "ending"
    ENDED = "ended"


TRANSITIONS: dict[CallState, frozenset[CallState]] = {
    CallState.GREETING: frozenset({CallState.LISTENING, CallState.THINKING, CallState.ENDING}),
    CallState.LISTENING: frozenset({CallState.THINKING, CallState.SPEAKING, CallState.ENDING}),
    CallState.THINKING: frozenset({CallState.SPEAKING, CallState.LISTENING, CallState.ENDING}),
    CallState.SPEAKING: frozenset({CallState.LISTENING, CallState.THINKING, CallState.ENDING}),
    CallState.ENDING: frozenset({CallState.ENDED}),
    CallState.ENDED: frozenset(),
}


class IllegalTransition(RuntimeError):
    """A bug: the engine tried a transition the table does not allow."""


class StateMachine:
    """Holds the current state and enforces `TRANSITIONS`."""

    def __init__(self) -> None:
        self.state = CallState.GREETING

    def to(self, new: CallState) -> bool:
        """Move to `new`; False when already there; raises on a transition not in the table."""
        if new is self.state:
            return False
        if new not in TRANSITIONS[self.state]:
            raise IllegalTransition(f"{self.state} -> {new}")
        self.state = new
        return True

    @property
    def ending(self) -> bool:
        return self.state in (CallState.ENDING, CallState.ENDED)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Guards the engine applies on top of each provider's own timeouts."""

    # Connecting a provider (model load, WebSocket handshake).
    provider_connect_s: float = 5.0
    # LLM: from request to first delta, and between deltas. Past a few seconds of silence a
    # caller assumes the line is dead, so an apology beats waiting longer.
    llm_first_token_s: float = 4.0
    llm_idle_s: float = 4.0
    # TTS: from request to first audio of a sentence, and between chunks.
    tts_first_audio_s: float = 3.0
    tts_idle_s: float = 3.0
    # After the VAD heard the end of speech, how long to wait for the STT's final before the
    # latest partial is taken as the caller's turn. A local recognizer's work at the end of an
    # utterance (Whisper decodes all of it then) takes up to a second on a busy machine and is
    # worth waiting for.
    stt_final_grace_s: float = 1.2
    # DTMF digits are gathered until this long without a key (or until "#").
    dtmf_collect_s: float = 1.5
    # Extra wait for the leg's last mark beyond the audio still queued, in case a transport
    # loses a mark.
    mark_grace_s: float = 2.0
    # Closing providers and hanging up at the end of the call.
    shutdown_s: float = 3.0
    # Leaving a voicemail message: the longest wait for the mailbox's beep (greetings rarely
    # run past 20 s), and the quiet that ends a greeting without one (longer than a pause
    # within a greeting).
    voicemail_beep_s: float = 20.0
    voicemail_quiet_s: float = 3.0
