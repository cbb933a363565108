"""Base classes every STT, LLM and TTS vendor implements, and the types they exchange."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from enum import StrEnum
from typing import Any, Literal

import msgspec


class ProviderKind(StrEnum):
    STT = "stt"
    LLM = "llm"
    TTS = "tts"


class Transcript(msgspec.Struct, frozen=True):
    """A speech-to-text result: partial (`is_final=False`) or final for one utterance."""

    text: str
    is_final: bool
    confidence: float | None = None


class UtteranceEnd(msgspec.Struct, frozen=True):
    """The recognizer heard no word for `silent_ms` of audio after the caller's last one: a
    second end-of-turn signal, for lines too noisy for the VAD to hear the silence."""

    silent_ms: int


class ToolSpec(msgspec.Struct, frozen=True):
    """A tool offered to the model: its name, what it does, a JSON schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


class ToolCall(msgspec.Struct, frozen=True):
    """The model asks for a tool; `arguments` is the JSON text it wrote (maybe malformed).

    `signature` is opaque vendor state to send back with the call in the history (Gemini's
    thought signature).
    """

    id: str
    name: str
    arguments: str
    signature: str | None = None


class TextDelta(msgspec.Struct, frozen=True):
    """A piece of the reply's text, to be spoken as it streams."""

    text: str


# What `LLMProvider.generate` yields, in stream order.
LLMEvent = TextDelta | ToolCall


class Message(msgspec.Struct, frozen=True):
    """One conversation turn given to an LLM.

    An assistant turn may carry the tool calls it made; a `tool` turn is the result of the
    call named by `tool_call_id`.
    """

    role: Literal["user", "assistant", "tool"]
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None


def plain_history(messages: Sequence[Message]) -> list[Message]:
    """`messages` for a model offered no tools: tool turns and empty assistant turns left out."""
    return [
        Message(m.role, m.content)
        for m in messages
        if m.role != "tool" and (m.content or not m.tool_calls)
    ]


class AudioChunk(msgspec.Struct, frozen=True):
    """Synthesized speech: signed 16-bit little-endian mono PCM at `sample_rate`."""

    pcm: bytes
    sample_rate: int


class ProviderConfig(msgspec.Struct, frozen=True):
    """What an agent's configuration gives one provider instance (the key already decrypted)."""

    vendor: str
    model: str | None = None
    api_key: str | None = None
    voice: str | None = None
    language: str = "en-US"
    options: dict[str, Any] = msgspec.field(default_factory=dict)


def url_options(options: Mapping[str, Any]) -> dict[str, str]:
    """The options that name where a provider connects (`base_url`, `api_base_url`, ...)."""
    return {k: v for k, v in options.items() if k.endswith("url") and isinstance(v, str)}


class ProviderUsage(msgspec.Struct):
    """Usage accounted by one provider instance over a call, for the call record."""

    audio_seconds: float = 0.0
    characters: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    requests: int = 0


class ProviderError(Exception):
    """A provider failed. `retryable` says whether trying the same request again may help.

    Retryable: transient faults (timeouts, HTTP 408/409/429/5xx, dropped connections, a
    stream cut short). Not retryable: refused credentials (401/403), bad requests and
    configuration. Providers retry by themselves only before any output; whether a request
    that already produced output may be repeated is the caller's decision.
    """

    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


class ProviderTimeout(ProviderError):
    """A provider did not answer in time."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=True)


class Provider(ABC):
    """Lifecycle shared by all kinds: `connect` before use, `close` after; both idempotent."""

    kind: ProviderKind
    vendor: str

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self.usage = ProviderUsage()

    async def connect(self) -> None:  # noqa: B027 (optional hook with a no-op default)
        """Open connections or load models. Default: nothing to do."""

    async def close(self) -> None:  # noqa: B027 (optional hook with a no-op default)
        """Release what `connect` opened. Default: nothing to do."""

    async def check_credentials(self) -> None:  # noqa: B027 (optional hook with a no-op default)
        """Raise `ProviderError` when the configured credential is refused. Default: accept."""


class STTProvider(Provider):
    """Streaming speech-to-text for one call.

    Audio goes in with `send_audio` (PCM16 LE mono at `sample_rate`); results come out of
    `transcripts()`. `end_utterance()` tells the provider the VAD heard the end of speech, so
    it should finalize what it has now.
    """

    kind = ProviderKind.STT
    sample_rate: int = 16000

    @abstractmethod
    async def send_audio(self, pcm: bytes) -> None:
        """Feed caller audio."""

    @abstractmethod
    async def end_utterance(self) -> None:
        """Finalize the current utterance; a final `Transcript` follows (possibly empty)."""

    @abstractmethod
    def transcripts(self) -> AsyncIterator[Transcript]:
        """Partial and final results, in order, until `close()`."""

    def events(self) -> AsyncIterator[Transcript | UtteranceEnd]:
        """`transcripts()` and, from vendors that detect it, each `UtteranceEnd` among them."""
        return self.transcripts()

    async def prepare(self) -> None:
        """After `connect`: until the recognizer hears this agent's callers as well as it will
        (an offline one builds the agent's language model on first use; calls never wait for
        it). Default: at once."""


class LLMProvider(Provider):
    """Streaming text generation, with tool calls where the vendor's protocol has them."""

    kind = ProviderKind.LLM

    @abstractmethod
    def stream(self, messages: Sequence[Message], system_prompt: str) -> AsyncIterator[str]:
        """Yield text deltas of the assistant's reply to `messages`."""

    async def generate(
        self, messages: Sequence[Message], system_prompt: str, tools: Sequence[ToolSpec] = ()
    ) -> AsyncIterator[LLMEvent]:
        """Text deltas and tool calls of the reply, in stream order.

        Default, for vendors without a tool protocol here: the text of `stream`, over the
        history without its tool turns; `tools` is not offered.
        """
        async for text in self.stream(plain_history(messages), system_prompt):
            yield TextDelta(text)


class TTSProvider(Provider):
    """Text-to-speech, one sentence at a time."""

    kind = ProviderKind.TTS

    @abstractmethod
    def synthesize(self, text: str) -> AsyncIterator[AudioChunk]:
        """Yield speech for `text` as it is produced."""
