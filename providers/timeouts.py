"""Per-provider deadlines: connect within N s, first result within M s (any vendor, any kind).

`with_timeouts(provider, Timeouts(...))` returns a provider of the same kind that raises
`ProviderTimeout` when the inner one is too slow; vendors need no timeout code of their own
for these two deadlines (their HTTP/WebSocket read timeouts still guard a stalled stream).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Annotated, TypeVar, overload

import msgspec

from providers.base import (
    AudioChunk,
    LLMEvent,
    LLMProvider,
    Message,
    Provider,
    ProviderTimeout,
    ProviderUsage,
    STTProvider,
    ToolSpec,
    Transcript,
    TTSProvider,
)
from providers.streams import close_stream

T = TypeVar("T")


class Timeouts(msgspec.Struct, frozen=True, kw_only=True):
    """Deadlines for one provider, in seconds."""

    # Opening connections or loading a model.
    connect: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    # From a request (LLM messages, TTS text) to its first delta or audio chunk; a caller
    # waiting longer than this in silence is better served by the fallback.
    first_result: Annotated[float, msgspec.Meta(gt=0)] = 4.0


async def connect_within(provider: Provider, seconds: float) -> None:
    """`provider.connect()`, or `ProviderTimeout` after `seconds`."""
    try:
        async with asyncio.timeout(seconds):
            await provider.connect()
    except TimeoutError:
        raise ProviderTimeout(
            f"{provider.kind} {provider.vendor}: no connection within {seconds:g} s"
        ) from None


async def first_within(stream: AsyncIterator[T], seconds: float, what: str) -> AsyncIterator[T]:
    """Items of `stream`, raising `ProviderTimeout` if the first takes over `seconds`."""
    try:
        try:
            async with asyncio.timeout(seconds):
                first = await anext(stream)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise ProviderTimeout(f"{what}: no result within {seconds:g} s") from None
        yield first
        async for item in stream:
            yield item
    finally:
        await close_stream(stream)


class _Timed:
    """Delegation shared by the timed wrappers: same config, vendor and usage object."""

    inner: Provider
    timeouts: Timeouts
    vendor: str
    usage: ProviderUsage

    def _wrap(self, inner: Provider, timeouts: Timeouts) -> None:
        self.inner, self.timeouts = inner, timeouts
        self.vendor, self.usage = inner.vendor, inner.usage

    async def connect(self) -> None:
        await connect_within(self.inner, self.timeouts.connect)

    async def close(self) -> None:
        await self.inner.close()

    async def check_credentials(self) -> None:
        await self.inner.check_credentials()

    def _what(self) -> str:
        return f"{self.inner.kind} {self.inner.vendor}"


class TimedLLM(_Timed, LLMProvider):
    """An LLM whose first delta must come within `timeouts.first_result`."""

    def __init__(self, inner: LLMProvider, timeouts: Timeouts) -> None:
        super().__init__(inner.config)
        self._wrap(inner, timeouts)
        self._llm = inner

    def stream(self, messages: Sequence[Message], system_prompt: str) -> AsyncIterator[str]:
        inner = self._llm.stream(messages, system_prompt)
        return first_within(inner, self.timeouts.first_result, self._what())

    def generate(
        self, messages: Sequence[Message], system_prompt: str, tools: Sequence[ToolSpec] = ()
    ) -> AsyncIterator[LLMEvent]:
        inner = self._llm.generate(messages, system_prompt, tools)
        return first_within(inner, self.timeouts.first_result, self._what())


class TimedTTS(_Timed, TTSProvider):
    """A TTS whose first audio must come within `timeouts.first_result`."""

    def __init__(self, inner: TTSProvider, timeouts: Timeouts) -> None:
        super().__init__(inner.config)
        self._wrap(inner, timeouts)
        self._tts = inner

    def synthesize(self, text: str) -> AsyncIterator[AudioChunk]:
        inner = self._tts.synthesize(text)
        return first_within(inner, self.timeouts.first_result, self._what())


class TimedSTT(_Timed, STTProvider):
    """An STT whose connection must open within `timeouts.connect` (results follow speech,
    so they have no deadline of their own; the pipeline times the final after end of speech)."""

    def __init__(self, inner: STTProvider, timeouts: Timeouts) -> None:
        super().__init__(inner.config)
        self._wrap(inner, timeouts)
        self.sample_rate = inner.sample_rate
        self._stt = inner

    async def send_audio(self, pcm: bytes) -> None:
        await self._stt.send_audio(pcm)

    async def end_utterance(self) -> None:
        await self._stt.end_utterance()

    def transcripts(self) -> AsyncIterator[Transcript]:
        return self._stt.transcripts()


@overload
def with_timeouts(provider: LLMProvider, timeouts: Timeouts) -> TimedLLM: ...
@overload
def with_timeouts(provider: TTSProvider, timeouts: Timeouts) -> TimedTTS: ...
@overload
def with_timeouts(provider: STTProvider, timeouts: Timeouts) -> TimedSTT: ...
@overload
def with_timeouts(provider: Provider, timeouts: Timeouts) -> Provider: ...
def with_timeouts(provider: Provider, timeouts: Timeouts) -> Provider:
    """`provider` with connect and first-result deadlines, as a provider of the same kind."""
    if isinstance(provider, LLMProvider):
        return TimedLLM(provider, timeouts)
    if isinstance(provider, TTSProvider):
        return TimedTTS(provider, timeouts)
    if isinstance(provider, STTProvider):
        return TimedSTT(provider, timeouts)
    raise TypeError(f"not a provider kind with timeouts: {type(provider).__name__}")
