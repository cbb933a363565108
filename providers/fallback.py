"""Fallback chains: a provider of one kind made of several vendors tried in order.

LLM and TTS: each request goes to the first provider; if it fails (`ProviderError`, which
includes `ProviderTimeout`) before producing anything, the next one is asked, and so on.
Once output has been handed out, a failure propagates instead: switching vendor mid-reply
would repeat or garble what the caller already heard, and the pipeline knows what was heard.
A provider that failed with a non-retryable error (a refused key) is skipped for the rest
of the call; a transient failure only skips it for that request.

STT: the first provider that connects serves the call; if it fails mid-call, the next one is
connected and serves from then on (the utterance in progress is lost, the call is not).

`served_by` names the vendor of the last success; `on_failover` hears of every switch, so
the caller can log it with its tenant and call ids. Each member keeps its own `usage`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Generic, TypeVar

import msgspec
import structlog

from providers.base import (
    AudioChunk,
    LLMEvent,
    LLMProvider,
    Message,
    Provider,
    ProviderConfig,
    ProviderError,
    ProviderKind,
    STTProvider,
    ToolSpec,
    Transcript,
    TTSProvider,
)
from providers.registry import REGISTRY, Registry
from providers.streams import close_stream
from providers.timeouts import Timeouts, with_timeouts

log = structlog.get_logger(__name__)

P = TypeVar("P", bound=Provider)
T = TypeVar("T")


class Failover(msgspec.Struct, frozen=True):
    """One switch from a failed provider to the next one in its chain."""

    kind: ProviderKind
    failed_vendor: str
    next_vendor: str
    error: str
    retryable: bool


FailoverHook = Callable[[Failover], None]


class _Chain(Generic[P]):
    """Members, the connect-on-demand bookkeeping and the failover notification."""

    kind: ProviderKind

    def _init_chain(self, members: Sequence[P], on_failover: FailoverHook | None) -> None:
        if not members:
            raise ValueError("a fallback chain needs at least one provider")
        self.members: list[P] = list(members)
        self.served_by: str | None = None
        self._on_failover = on_failover
        self._connected: set[int] = set()
        self._broken: set[int] = set()

    async def _ensure_connected(self, index: int) -> None:
        if index not in self._connected:
            await self.members[index].connect()
            self._connected.add(index)

    def _candidates(self) -> list[int]:
        usable = [i for i in range(len(self.members)) if i not in self._broken]
        return usable or [len(self.members) - 1]

    def _failed(self, index: int, exc: ProviderError, next_index: int | None) -> None:
        failed = self.members[index]
        if not exc.retryable:
            self._broken.add(index)
        if next_index is None:
            return
        event = Failover(
            kind=self.kind,
            failed_vendor=failed.vendor,
            next_vendor=self.members[next_index].vendor,
            error=str(exc),
            retryable=exc.retryable,
        )
        log.warning("provider_failover", **msgspec.structs.asdict(event))
        if self._on_failover is not None:
            self._on_failover(event)

    async def _close_members(self) -> None:
        for member in self.members:
            await member.close()
        self._connected.clear()

    async def check_credentials(self) -> None:
        """Every member's credential, so a refused fallback key shows before it is needed."""
        for member in self.members:
            await member.check_credentials()

    async def _first_success(
        self, open_stream: Callable[[P], AsyncIterator[T]]
    ) -> AsyncIterator[T]:
        """Items from the first member whose stream yields without failing first."""
        candidates = self._candidates()
        for position, index in enumerate(candidates):
            next_index = candidates[position + 1] if position + 1 < len(candidates) else None
            produced = False
            try:
                await self._ensure_connected(index)
                stream = open_stream(self.members[index])
                try:
                    async for item in stream:
                        produced = True
                        yield item
                finally:
                    await close_stream(stream)
                self.served_by = self.members[index].vendor
                return
            except ProviderError as exc:
                self._failed(index, exc, None if produced else next_index)
                if produced or next_index is None:
                    raise


class _RequestChain(_Chain[P]):
    """A chain asked afresh for each request (an LLM reply, a TTS sentence)."""

    async def connect(self) -> None:
        await self._ensure_connected(self._candidates()[0])

    async def close(self) -> None:
        await self._close_members()


class FallbackLLM(_RequestChain[LLMProvider], LLMProvider):
    """LLM providers tried in order for each reply."""

    def __init__(
        self, members: Sequence[LLMProvider], on_failover: FailoverHook | None = None
    ) -> None:
        self._init_chain(members, on_failover)
        super().__init__(self.members[0].config)
        self.vendor = self.members[0].vendor

    def stream(self, messages: Sequence[Message], system_prompt: str) -> AsyncIterator[str]:
        return self._first_success(lambda llm: llm.stream(messages, system_prompt))

    def generate(
        self, messages: Sequence[Message], system_prompt: str, tools: Sequence[ToolSpec] = ()
    ) -> AsyncIterator[LLMEvent]:
        return self._first_success(lambda llm: llm.generate(messages, system_prompt, tools))


class FallbackTTS(_RequestChain[TTSProvider], TTSProvider):
    """TTS providers tried in order for each sentence."""

    def __init__(
        self, members: Sequence[TTSProvider], on_failover: FailoverHook | None = None
    ) -> None:
        self._init_chain(members, on_failover)
        super().__init__(self.members[0].config)
        self.vendor = self.members[0].vendor

    def synthesize(self, text: str) -> AsyncIterator[AudioChunk]:
        return self._first_success(lambda tts: tts.synthesize(text))


class FallbackSTT(_Chain[STTProvider], STTProvider):
    """STT providers: the first that works serves the call; the next takes over on failure.

    Members should accept the same `sample_rate` (the chain reports the first one's).
    """

    def __init__(
        self, members: Sequence[STTProvider], on_failover: FailoverHook | None = None
    ) -> None:
        self._init_chain(members, on_failover)
        super().__init__(self.members[0].config)
        self.vendor = self.members[0].vendor
        self.sample_rate = self.members[0].sample_rate
        self._active = 0
        self._switching = asyncio.Lock()
        self._closed = False

    @property
    def active(self) -> STTProvider:
        """The member serving the call now."""
        return self.members[self._active]

    async def connect(self) -> None:
        for index in range(len(self.members)):
            try:
                await self._ensure_connected(index)
            except ProviderError as exc:
                last = index == len(self.members) - 1
                self._failed(index, exc, None if last else index + 1)
                if last:
                    raise
                continue
            self._active = index
            self.served_by = self.members[index].vendor
            return

    async def close(self) -> None:
        self._closed = True
        await self._close_members()

    async def send_audio(self, pcm: bytes) -> None:
        index = self._active
        try:
            await self.members[index].send_audio(pcm)
        except ProviderError as exc:
            await self._switch_from(index, exc)
            await self.active.send_audio(pcm)

    async def end_utterance(self) -> None:
        index = self._active
        try:
            await self.members[index].end_utterance()
        except ProviderError as exc:
            await self._switch_from(index, exc)
            await self.active.end_utterance()

    async def transcripts(self) -> AsyncIterator[Transcript]:
        while not self._closed:
            index = self._active
            try:
                async for transcript in self.members[index].transcripts():
                    yield transcript
            except ProviderError as exc:
                await self._switch_from(index, exc)
                continue
            if index == self._active:
                return  # closed normally

    async def _switch_from(self, index: int, exc: ProviderError) -> None:
        """Make the member after `index` active (once, however many callers saw the error)."""
        async with self._switching:
            if index != self._active:
                return
            failed = index
            for candidate in range(index + 1, len(self.members)):
                self._failed(failed, exc, candidate)
                try:
                    await self._ensure_connected(candidate)
                except ProviderError as connect_error:
                    exc, failed = connect_error, candidate
                    continue
                self._active = candidate
                self.served_by = self.members[candidate].vendor
                # Closing ends the old member's `transcripts()`, so `transcripts` moves on.
                await self.members[index].close()
                return
            self._failed(failed, exc, None)
            raise exc


def build_chain(
    kind: ProviderKind | str,
    configs: Sequence[ProviderConfig],
    *,
    timeouts: Timeouts | None = None,
    on_failover: FailoverHook | None = None,
    registry: Registry = REGISTRY,
) -> Provider:
    """An agent's provider for one call: its primary, then its fallbacks, in order.

    Every config is validated before anything is built; with `timeouts`, each member gets
    its own deadlines. One config gives that provider itself (no chain).
    """
    if not configs:
        raise ValueError("at least one provider config is needed")
    kind = ProviderKind(kind)
    checked = [registry.validate(kind, config) for config in configs]
    members = [registry.build(kind, config) for config in checked]
    if timeouts is not None:
        members = [with_timeouts(member, timeouts) for member in members]
    if len(members) == 1:
        return members[0]
    if kind is ProviderKind.LLM:
        llms = [m for m in members if isinstance(m, LLMProvider)]
        return FallbackLLM(_all_of_kind(llms, members), on_failover)
    if kind is ProviderKind.TTS:
        ttss = [m for m in members if isinstance(m, TTSProvider)]
        return FallbackTTS(_all_of_kind(ttss, members), on_failover)
    stts = [m for m in members if isinstance(m, STTProvider)]
    return FallbackSTT(_all_of_kind(stts, members), on_failover)


def _all_of_kind(of_kind: list[P], members: list[Provider]) -> list[P]:
    if len(of_kind) != len(members):
        raise TypeError(f"a vendor factory built the wrong kind of provider: {members}")
    return of_kind
