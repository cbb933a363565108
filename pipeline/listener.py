"""The call's speech recognizer: opened with one retry, failed over to the fallback, its
lifecycle (opened, closed, rejected, timeout, error) recorded."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from pipeline.failures import FailureReporter, describe
from providers.base import ProviderError, ProviderTimeout, STTProvider, Transcript, UtteranceEnd

RecordEvent = Callable[..., None]  # (kind, **detail)
Spawn = Callable[[Coroutine[Any, Any, None]], "asyncio.Task[None]"]


def lifecycle_kind(error: BaseException) -> str:
    """The STT lifecycle event an error stands for."""
    if isinstance(error, ProviderTimeout | TimeoutError):
        return "stt.timeout"
    if isinstance(error, ProviderError) and not error.retryable:
        return "stt.rejected"
    return "stt.error"


class SttSession:
    """Feeds caller audio to the current STT provider and hands its results on.

    Transcripts go to `on_transcript`, the recognizer's own end-of-utterance signal (from
    vendors that send one) to `on_utterance_end`. When the primary cannot be opened (a
    retryable error is retried once) or fails mid-call, the fallback takes over; when none is
    left, `on_lost(reason)` is awaited.
    """

    def __init__(
        self,
        primary: STTProvider,
        fallback: STTProvider | None,
        *,
        connect_timeout_s: float,
        reporter: FailureReporter,
        record: RecordEvent,
        spawn: Spawn,
        on_transcript: Callable[[Transcript], None],
        on_utterance_end: Callable[[UtteranceEnd], None],
        on_lost: Callable[[str], Awaitable[None]],
    ) -> None:
        self._candidates = [p for p in (primary, fallback) if p is not None]
        self._connect_timeout_s = connect_timeout_s
        self._reporter = reporter
        self._record = record
        self._spawn = spawn
        self._on_transcript = on_transcript
        self._on_utterance_end = on_utterance_end
        self._on_lost = on_lost
        self.current: STTProvider | None = None
        self.used: list[STTProvider] = []
        self._closing = False

    async def open(self) -> None:
        """Open the first provider that connects (each not tried before)."""
        remaining = [p for p in self._candidates if p not in self.used]
        for stt in remaining:
            for attempt in (1, 2):
                try:
                    async with asyncio.timeout(self._connect_timeout_s):
                        await stt.connect()
                except Exception as e:
                    self._record(lifecycle_kind(e), vendor=stt.vendor, error=describe(e))
                    retry = attempt == 1 and isinstance(e, ProviderError) and e.retryable
                    has_next = stt is not remaining[-1]
                    self._reporter.provider_failed(
                        stt, e, retried=retry, fallback=not retry and has_next
                    )
                    if retry:
                        continue
                    break
                self.used.append(stt)
                self.current = stt
                self._record("stt.opened", vendor=stt.vendor)
                self._spawn(self._read(stt))
                return
        await self._on_lost("speech recognition unavailable")

    async def send_audio(self, pcm: bytes) -> None:
        stt = self.current
        if stt is None:
            return
        try:
            await stt.send_audio(pcm)
        except Exception as e:
            self._record(lifecycle_kind(e), vendor=stt.vendor, error=describe(e))
            self._spawn(self._failed(stt, e))

    def end_utterance(self) -> None:
        """Ask the current provider for the utterance's final (in the background)."""
        if self.current is not None:
            self._spawn(self._end_utterance(self.current))

    async def close(self) -> None:
        """Record the close of the current provider; providers are closed by the caller."""
        self._closing = True
        if self.current is not None:
            self._record("stt.closed", vendor=self.current.vendor)
            self.current = None

    async def _end_utterance(self, stt: STTProvider) -> None:
        try:
            await stt.end_utterance()
        except Exception as e:
            self._record(lifecycle_kind(e), vendor=stt.vendor, error=describe(e))
            await self._failed(stt, e)

    async def _read(self, stt: STTProvider) -> None:
        try:
            async for event in stt.events():
                if isinstance(event, Transcript):
                    self._on_transcript(event)
                else:
                    self._on_utterance_end(event)
        except Exception as e:
            self._record(lifecycle_kind(e), vendor=stt.vendor, error=describe(e))
            await self._failed(stt, e)
            return
        if not self._closing:
            await self._failed(stt, ProviderError("transcript stream ended", retryable=False))

    async def _failed(self, stt: STTProvider, error: BaseException) -> None:
        if self.current is not stt or self._closing:
            return
        self.current = None
        has_fallback = any(p not in self.used for p in self._candidates)
        self._reporter.provider_failed(stt, error, retried=False, fallback=has_fallback)
        self._record("stt.closed", vendor=stt.vendor)
        try:
            await stt.close()
        except Exception as e:
            self._record("stt.error", vendor=stt.vendor, error=describe(e))
        if has_fallback:
            await self.open()
        else:
            await self._on_lost("speech recognition failed")
