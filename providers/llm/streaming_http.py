"""What the vendor-API LLM clients streaming server-sent events over httpx share.

A subclass says how to authenticate (`_headers`), what to send (`request_body`,
`_stream_request`) and how to read the vendor's events (`_texts`, or `_events` for a vendor
whose replies carry tool calls too); this base owns the lazily
created connection pool, the retried opening of the stream and the mapping of transport
failures once the reply flows.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import AsyncIterator, Sequence
from typing import Any, ClassVar, Generic, TypeVar

import httpx
import msgspec

from providers.base import LLMEvent, LLMProvider, Message, ProviderConfig, ProviderError, TextDelta
from providers.cloud.http import open_stream_with_retries, send_with_retries
from providers.cloud.options import CloudOptions
from providers.http import error_for_transport

OptionsT = TypeVar("OptionsT", bound=CloudOptions)
EventT = TypeVar("EventT")


class StreamingHttpLLM(LLMProvider, Generic[OptionsT]):
    """An LLM whose replies stream as server-sent events from an HTTP API."""

    # The operation named in retry logs and errors when opening the stream.
    stream_what: ClassVar[str]

    def __init__(self, config: ProviderConfig, options: OptionsT, default_base_url: str) -> None:
        super().__init__(config)
        self.options = options
        self._base_url = options.url(default_base_url)
        self._policy = options.retry_policy()
        self._http: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        """The connection pool, created on first use (so `connect` is optional)."""
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.options.http_timeout())
        return self._http

    async def connect(self) -> None:
        _ = self.http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    @abstractmethod
    def _headers(self) -> dict[str, str]:
        """Authentication and content type of every request."""

    @abstractmethod
    def request_body(self, messages: Sequence[Message], system_prompt: str) -> dict[str, Any]:
        """The vendor's streaming request for `messages`."""

    @abstractmethod
    def _stream_request(self, content: bytes) -> httpx.Request:
        """A fresh streaming request carrying the encoded body (one per try)."""

    @abstractmethod
    def _texts(self, response: httpx.Response) -> AsyncIterator[str]:
        """The reply's text pieces read from the open event stream; counts tokens used."""

    async def _get(self, path: str, *, what: str) -> httpx.Response:
        """`GET {base_url}{path}`, retried on transient failures."""
        url = f"{self._base_url}{path}"
        return await send_with_retries(
            self.vendor,
            self.http,
            lambda: self.http.build_request("GET", url, headers=self._headers()),
            self._policy,
            what=what,
        )

    async def _open_stream(self, content: bytes) -> httpx.Response:
        """The 200 response whose events are still to be read, retried until it opens."""
        return await open_stream_with_retries(
            self.vendor,
            self.http,
            lambda: self._stream_request(content),
            self._policy,
            what=self.stream_what,
        )

    async def _events(self, response: httpx.Response) -> AsyncIterator[LLMEvent]:
        """The reply's events from the open stream: by default the text pieces of `_texts`."""
        async for text in self._texts(response):
            yield TextDelta(text)

    async def stream(self, messages: Sequence[Message], system_prompt: str) -> AsyncIterator[str]:
        async for event in self._stream_events(self.request_body(messages, system_prompt)):
            if isinstance(event, TextDelta):
                yield event.text

    async def _stream_events(self, body: dict[str, Any]) -> AsyncIterator[LLMEvent]:
        """POST `body` as a stream and yield the reply's events."""
        response = await self._open_stream(msgspec.json.encode(body))
        self.usage.requests += 1
        try:
            async for event in self._events(response):
                yield event
        except httpx.TransportError as exc:
            raise error_for_transport(self.vendor, exc) from exc
        finally:
            await response.aclose()

    def _decode(self, decoder: msgspec.json.Decoder[EventT], data: str, noun: str) -> EventT:
        """One event's data, or a retryable error naming the malformed `noun`."""
        try:
            return decoder.decode(data)
        except msgspec.DecodeError as exc:
            raise ProviderError(f"{self.vendor}: malformed {noun}: {exc}", retryable=True) from exc

    def _ended_early(self) -> ProviderError:
        """The stream closed before the vendor marked the reply complete."""
        return ProviderError(f"{self.vendor}: stream ended before the reply did", retryable=True)
