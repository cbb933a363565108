"""A recognizer whose model runs in the local worker pool (`providers.local`).

Each call's recognizer is a session pinned to one worker. Caller audio (16 kHz; the pipeline
upsamples telephone audio) passes a speech gate here (silence is not sent) and goes to the
worker in ~100 ms batches, so the worker hears the utterance as it is spoken; the worker
answers a batch with a new partial hypothesis if it has one, and `end_utterance()` with the
final transcript. A vendor names its worker handler and the options its sessions open with.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import abstractmethod
from collections import deque
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import structlog

from providers.base import ProviderConfig, ProviderError, STTProvider, Transcript
from providers.local import shared
from providers.local.pool import LocalSession
from providers.registry import ProviderConfigError
from providers.stt.speech_gate import SpeechGate

log = structlog.get_logger(__name__)

SAMPLE_RATE = 16000
BYTES_PER_SECOND = SAMPLE_RATE * 2

# Feed the worker in batches this long: a round trip per 20 ms frame would cost more than the
# decoding, and partials every 100 ms are as fast as a caller can perceive.
FEED_BYTES = BYTES_PER_SECOND // 10


class _End:
    """Marks the end of an utterance in the feed queue."""


_END = _End()


class WorkerSTT(STTProvider):
    """Recognition of one call's caller audio in a local worker session of `handler`."""

    handler: ClassVar[str]
    sample_rate = SAMPLE_RATE

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        if not config.language.lower().startswith("en"):
            raise ProviderConfigError(
                f"{self.vendor}: only English is bundled, not {config.language!r}"
            )
        self.session: LocalSession | None = None
        self._gate = SpeechGate(SAMPLE_RATE)
        self._pending = bytearray()
        self._feed: deque[bytearray | _End] = deque()
        self._wake = asyncio.Event()
        self._results: asyncio.Queue[Transcript | ProviderError | None] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._closed = False
        self._failure: ProviderError | None = None

    @abstractmethod
    def session_options(self) -> dict[str, Any]:
        """The options the worker's handler opens this call's session with."""

    async def connect(self) -> None:
        if self._worker is not None:
            return
        pool = await shared.start()
        self.session = await pool.open(self.handler, **self.session_options())
        self._worker = asyncio.create_task(self._run(), name=f"{self.vendor}-recognizer")

    @property
    def decoded_seconds(self) -> float:
        """Audio the worker was given (the speech gate drops silence long before speech)."""
        return self._gate.passed_bytes / BYTES_PER_SECOND

    async def send_audio(self, pcm: bytes) -> None:
        self._check_open()
        self.usage.audio_seconds += len(pcm) / BYTES_PER_SECOND
        self._gate.push(pcm, self._pending)
        if len(self._pending) >= FEED_BYTES:
            self._flush_pending()
            self._wake.set()

    async def end_utterance(self) -> None:
        self._check_open()
        self._flush_pending()
        self._feed.append(_END)
        self._wake.set()

    async def transcripts(self) -> AsyncIterator[Transcript]:
        while True:
            result = await self._results.get()
            if result is None:
                return
            if isinstance(result, ProviderError):
                raise result
            yield result

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        self._results.put_nowait(None)
        if self.session is not None:
            await self.session.close()

    def _check_open(self) -> None:
        if self._failure is not None:
            raise self._failure
        if self._worker is None or self._closed:
            raise ProviderError(f"{self.vendor}: not connected", retryable=False)

    def _flush_pending(self) -> None:
        if not self._pending:
            return
        # Audio queued while the worker is busy joins the batch before it, not a new item.
        if self._feed and isinstance(self._feed[-1], bytearray):
            self._feed[-1] += self._pending
        else:
            self._feed.append(bytearray(self._pending))
        self._pending.clear()

    async def _run(self) -> None:
        session = self.session
        assert session is not None
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._feed:
                    item = self._feed.popleft()
                    if isinstance(item, _End):
                        replies = await session.call("end")
                        self.usage.requests += 1
                        text = replies[0].text if replies else ""
                        self._results.put_nowait(Transcript(text, is_final=True))
                        continue
                    for reply in await session.call("feed", bytes(item)):
                        self._results.put_nowait(Transcript(reply.text, is_final=False))
        except ProviderError as exc:
            log.error("local recognizer failed", vendor=self.vendor, error=str(exc))
            self._failure = ProviderError(f"{self.vendor}: {exc}", retryable=False)
            self._results.put_nowait(self._failure)
