"""Base of speech-to-text vendors streamed over one WebSocket per call (Deepgram, ElevenLabs,
Qwen/DashScope, OpenAI realtime).

`connect()` opens the socket (retried on 429/5xx and network failures, never on 401/403) and
runs the vendor's session start; a reader task turns the vendor's messages into
`Transcript`s. Audio is forwarded as it comes; `end_utterance()` sends the vendor's
finalize/flush/commit message. A connection that drops, or a vendor error, mid-call ends
`transcripts()` with a `ProviderError` (and `send_audio` raises it too), so the pipeline's
fallback or apology runs; nothing is retried once audio has been streamed, since the vendor's
view of the utterance would be lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from abc import abstractmethod
from collections.abc import AsyncIterator

import structlog
from websockets.asyncio.client import ClientConnection

from providers.base import (
    ProviderConfig,
    ProviderError,
    ProviderTimeout,
    STTProvider,
    Transcript,
    UtteranceEnd,
)
from providers.cloud.options import CloudOptions
from providers.cloud.websocket import open_websocket, receive, send
from providers.retry import with_retries

log = structlog.get_logger(__name__)

# After the close message, how long the vendor may take to flush and hang up.
CLOSE_GRACE_S = 1.0


def http_base(ws_base: str) -> str:
    """The HTTPS root of a vendor's WSS root (for its REST credential check)."""
    if ws_base.startswith("wss://"):
        return "https://" + ws_base.removeprefix("wss://")
    if ws_base.startswith("ws://"):
        return "http://" + ws_base.removeprefix("ws://")
    return ws_base


class StreamingSTT(STTProvider):
    """One WebSocket per call; subclasses speak the vendor's messages."""

    # Telephone audio: every streaming vendor here accepts 8 kHz (most µ-law natively).
    sample_rate = 8000
    # Seconds without audio after which `keepalive_message()` is sent (None: never).
    keepalive_interval: float | None = None

    def __init__(self, config: ProviderConfig, options: CloudOptions) -> None:
        super().__init__(config)
        self._cloud = options
        self._policy = options.retry_policy()
        self._ws: ClientConnection | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._reader: asyncio.Task[None] | None = None
        self._queue: asyncio.Queue[Transcript | UtteranceEnd | ProviderError | None] = (
            asyncio.Queue()
        )
        self._failure: ProviderError | None = None
        self._closing = False
        self._last_sent = time.monotonic()

    # ---- what a vendor supplies ---------------------------------------------------------

    @abstractmethod
    def ws_url(self) -> str:
        """The URL to open, query string included."""

    @abstractmethod
    def ws_headers(self) -> dict[str, str]:
        """Handshake headers, the credential among them."""

    async def start_session(self, ws: ClientConnection) -> None:
        """Configure the session after the handshake (read the vendor's ack here if any)."""

    @abstractmethod
    def audio_message(self, pcm: bytes) -> str | bytes:
        """The message carrying `pcm` (PCM16 at `sample_rate`) in the vendor's encoding."""

    @abstractmethod
    async def finalize(self) -> None:
        """Ask the vendor for the final transcript of what it has heard (`send_message`)."""

    @abstractmethod
    async def on_message(self, message: str | bytes) -> None:
        """Handle one vendor message: `emit` transcripts, raise `ProviderError` on errors."""

    def close_message(self) -> str | None:
        """Sent on `close()` so the vendor ends the session cleanly (None: just close)."""
        return None

    def keepalive_message(self) -> str | None:
        """Sent after `keepalive_interval` without audio so the vendor keeps the session."""
        return None

    # ---- shared machinery --------------------------------------------------------------

    def emit(self, event: Transcript | UtteranceEnd) -> None:
        """Hand a transcript (or the utterance's end) to `events()`."""
        self._queue.put_nowait(event)

    async def send_message(self, message: str | bytes) -> None:
        """Send on the open socket; a dropped connection fails the provider."""
        if self._failure is not None:
            raise self._failure
        if self._ws is None:
            await self.connect()
        assert self._ws is not None
        try:
            await send(self.vendor, self._ws, message)
        except ProviderError as exc:
            self._fail(exc)
            raise
        self._last_sent = time.monotonic()

    async def connect(self) -> None:
        if self._ws is not None:
            return

        async def attempt() -> ClientConnection:
            ws = await open_websocket(
                self.vendor,
                self.ws_url(),
                self.ws_headers(),
                connect_timeout=self._cloud.connect_timeout,
            )
            try:
                async with asyncio.timeout(self._cloud.read_timeout):
                    await self.start_session(ws)
            except TimeoutError:
                await ws.close()
                raise ProviderTimeout(f"{self.vendor}: session did not start") from None
            except BaseException:
                await ws.close()
                raise
            return ws

        self._ws = await with_retries(attempt, self._policy, what=f"{self.vendor} connect")
        self.usage.requests += 1
        self._reader = asyncio.create_task(self._read(self._ws))
        self._tasks.append(self._reader)
        if self.keepalive_interval is not None and self.keepalive_message() is not None:
            self._tasks.append(asyncio.create_task(self._keep_alive(self.keepalive_interval)))

    async def send_audio(self, pcm: bytes) -> None:
        if not pcm:
            return
        await self.send_message(self.audio_message(pcm))
        self.usage.audio_seconds += len(pcm) / 2 / self.sample_rate

    async def end_utterance(self) -> None:
        if self._failure is not None:
            raise self._failure
        if self._ws is None:
            self.emit(Transcript("", is_final=True))
            return
        await self.finalize()

    async def events(self) -> AsyncIterator[Transcript | UtteranceEnd]:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            if isinstance(item, ProviderError):
                raise item
            yield item

    async def transcripts(self) -> AsyncIterator[Transcript]:
        async for event in self.events():
            if isinstance(event, Transcript):
                yield event

    async def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        ws = self._ws
        goodbye = self.close_message()
        if ws is not None and self._failure is None and goodbye is not None:
            with contextlib.suppress(ProviderError, TimeoutError):
                await send(self.vendor, ws, goodbye)
                if self._reader is not None:
                    async with asyncio.timeout(CLOSE_GRACE_S):
                        await asyncio.shield(self._reader)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if ws is not None:
            await ws.close()
        self._queue.put_nowait(None)

    def _fail(self, exc: ProviderError) -> None:
        if self._failure is None and not self._closing:
            self._failure = exc
            log.warning("stt_stream_failed", vendor=self.vendor, error=str(exc))
            self._queue.put_nowait(exc)

    async def _read(self, ws: ClientConnection) -> None:
        try:
            while self._ws is ws:
                await self.on_message(await receive(self.vendor, ws, None))
        except ProviderError as exc:
            # A socket the vendor module retired (`retire_socket`) may close as it likes.
            if self._ws is ws:
                self._fail(exc)

    async def retire_socket(self) -> None:
        """Close the current socket for good; the next `connect()` opens a new one."""
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close()

    async def _keep_alive(self, interval: float) -> None:
        message = self.keepalive_message()
        assert message is not None
        while True:
            idle = time.monotonic() - self._last_sent
            if idle >= interval:
                with contextlib.suppress(ProviderError):
                    await self.send_message(message)
                idle = 0.0
            await asyncio.sleep(interval - idle)
