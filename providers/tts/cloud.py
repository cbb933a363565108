"""Base class of the cloud TTS vendors: options, HTTP client lifecycle, the streaming loop.

A vendor subclass names itself, its default API root and options type, says which audio it
asks for (`wire`) and provides `audio_source(text)`; `synthesize` does the rest (see
`providers.tts.streaming`). `connect()` (called when the call starts) opens the HTTP connection
ahead of the first sentence; the pooled connection then serves every sentence of the call.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, ClassVar, Generic, TypeVar

import httpx
import structlog

from providers.base import AudioChunk, ProviderConfig, TTSProvider
from providers.registry import parse_options
from providers.tts.streaming import CloudTTSOptions, WireAudio, stream_speech

OptionsT = TypeVar("OptionsT", bound=CloudTTSOptions)

log = structlog.get_logger(__name__)


class CloudTTS(TTSProvider, Generic[OptionsT]):
    """A TTS vendor reached over the network, one sentence per request."""

    default_base_url: ClassVar[str]
    # The vendor's options Struct (a `CloudTTSOptions` subclass; `OptionsT` at runtime).
    options_type: ClassVar[type[Any]]

    def __init__(self, config: ProviderConfig, *, http: httpx.AsyncClient | None = None) -> None:
        super().__init__(config)
        self.options: OptionsT = parse_options(config, self.options_type)
        self.base_url = self.options.url(self.default_base_url)
        self.retry = self.options.retry_policy()
        self._http = http
        self._owns_http = http is None

    @property
    @abstractmethod
    def wire(self) -> WireAudio:
        """The encoding and rate requested from the vendor."""

    @property
    def sample_rate(self) -> int:
        """The rate of the `AudioChunk`s this provider yields."""
        return self.wire.sample_rate

    @property
    def http(self) -> httpx.AsyncClient:
        """The pooled HTTP client, created on first use (kept alive across sentences)."""
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.options.http_timeout())
        return self._http

    @property
    def warms_http(self) -> bool:
        """Whether `connect` should open the HTTP connection synthesis will use."""
        return self.options.prewarm

    async def connect(self) -> None:
        """Open the pooled connection (TCP + TLS) now, so the first sentence does not wait for
        it. Any answer will do (an unauthenticated `HEAD /`); a failure here is only logged:
        synthesis connects (and reports errors) by itself."""
        if not self.warms_http:
            return
        try:
            await self.http.head(f"{self.base_url}/")
        except httpx.HTTPError as exc:
            log.info("tts_prewarm_failed", vendor=self.vendor, error=f"{type(exc).__name__}: {exc}")

    async def close(self) -> None:
        if self._http is not None and self._owns_http:
            await self._http.aclose()
            self._http = None

    @abstractmethod
    def audio_source(self, text: str) -> AsyncGenerator[bytes, None]:
        """A fresh request for `text` yielding the vendor's audio bytes as they arrive."""

    def synthesize(self, text: str) -> AsyncIterator[AudioChunk]:
        # The stream itself, not a wrapper: closing it (barge-in) closes the request at once.
        return stream_speech(
            self.vendor, text, lambda: self.audio_source(text), self.wire, self.retry, self.usage
        )
