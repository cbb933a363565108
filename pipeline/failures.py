"""Provider failures: logged with their context, counted, recorded, and routed to a fallback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import aclosing
from typing import Generic, TypeVar

import structlog

from pipeline.metrics import PROVIDER_FAILURES
from pipeline.records import CallEvent
from providers.base import Provider, ProviderError, ProviderKind, ProviderTimeout

log = structlog.get_logger(__name__)

P = TypeVar("P", bound=Provider)
T = TypeVar("T")


class AllProvidersFailed(Exception):
    """Every provider of a kind (retry and fallback included) failed before any output."""


class StreamBroken(Exception):
    """A provider failed after some of its output was already used: not safe to retry."""


def describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def speech_lost(events: Sequence[CallEvent]) -> str | None:
    """For the record: agent speech the caller never got because text-to-speech failed with
    no retry or fallback left (each such failure is a provider.failed event)."""
    lost = [
        e.detail.get("error", "")
        for e in events
        if e.kind == "provider.failed"
        and e.detail.get("provider_kind") == ProviderKind.TTS.value
        and e.detail.get("retried") == "false"
        and e.detail.get("fallback") == "false"
    ]
    if not lost:
        return None
    return f"text-to-speech failed {len(lost)} time(s), agent speech lost: {lost[-1]}"


class FailureReporter:
    """Logs and records provider failures with the call's tenant and id."""

    def __init__(
        self, *, tenant_id: str, call_id: str, record: Callable[[CallEvent], None],
        clock_ms: Callable[[], int],
    ) -> None:  # fmt: skip
        self._log = log.bind(tenant_id=tenant_id, call_id=call_id)
        self._record = record
        self._clock_ms = clock_ms

    def provider_failed(
        self, provider: Provider, error: BaseException, *, retried: bool, fallback: bool
    ) -> None:
        """One failed attempt; `retried`/`fallback`: what the pipeline does next."""
        timeout = isinstance(error, ProviderTimeout | TimeoutError)
        kind = "timeout" if timeout else "error"
        self._log.warning(
            "provider_failed",
            provider_kind=provider.kind.value,
            vendor=provider.vendor,
            error=describe(error),
            timeout=timeout,
            retried=retried,
            fallback=fallback,
        )
        PROVIDER_FAILURES.labels(provider.kind.value, provider.vendor, kind, str(retried)).inc()
        self._record(
            CallEvent(
                "provider.failed",
                self._clock_ms(),
                {
                    "provider_kind": provider.kind.value,
                    "vendor": provider.vendor,
                    "error": describe(error),
                    "retried": str(retried).lower(),
                    "fallback": str(fallback).lower(),
                },
            )
        )


async def _timed(
    stream: AsyncIterator[T], first_timeout_s: float, idle_timeout_s: float
) -> AsyncGenerator[T, None]:
    """Re-yield `stream`, raising `ProviderTimeout` when an item is late."""
    timeout = first_timeout_s
    try:
        while True:
            try:
                async with asyncio.timeout(timeout):
                    item = await anext(stream)
            except StopAsyncIteration:
                return
            except TimeoutError as e:
                raise ProviderTimeout(f"no output within {timeout:g} s") from e
            timeout = idle_timeout_s
            yield item
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


def _retry_safe(error: BaseException) -> bool:
    return isinstance(error, ProviderError) and error.retryable


class ProviderChain(Generic[P]):
    """A primary provider and an optional fallback, tried in order.

    Each request goes to the primary; a retryable failure before any output is retried once
    there, then (or at once for a non-retryable one) the request goes to the fallback.
    Fallbacks are connected on first use.
    """

    def __init__(
        self, primary: P, fallback: P | None, reporter: FailureReporter, connect_timeout_s: float
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self._reporter = reporter
        self._connect_timeout_s = connect_timeout_s
        self._connected: set[int] = set()
        self._connecting = asyncio.Lock()
        self._broken: set[int] = set()

    @property
    def used(self) -> Sequence[P]:
        """The providers that were connected during the call."""
        return [
            p for p in (self.primary, self.fallback) if p is not None and id(p) in self._connected
        ]

    async def connect_primary(self) -> None:
        """Connect the primary ahead of use; a failure is reported and leaves the fallback."""
        try:
            await self._connect(self.primary)
        except Exception as e:  # a crashing provider must not end the call
            self._broken.add(id(self.primary))
            self._reporter.provider_failed(
                self.primary, e, retried=False, fallback=self.fallback is not None
            )

    async def first_usable(self) -> P | None:
        """The first provider that is (or can now be) connected; failures are reported."""
        for provider in self._attempts():
            try:
                await self._connect(provider)
            except Exception as e:
                self._broken.add(id(provider))
                self._reporter.provider_failed(provider, e, retried=False, fallback=True)
                continue
            return provider
        return None

    async def _connect(self, provider: P) -> None:
        async with self._connecting:
            if id(provider) in self._connected:
                return
            async with asyncio.timeout(self._connect_timeout_s):
                await provider.connect()
            self._connected.add(id(provider))

    def _attempts(self) -> list[P]:
        order = [p for p in (self.primary, self.fallback) if p is not None]
        return [p for p in order if id(p) not in self._broken]

    async def stream(
        self,
        open_stream: Callable[[P], AsyncIterator[T]],
        *,
        first_timeout_s: float,
        idle_timeout_s: float,
    ) -> AsyncIterator[T]:
        """Items of the first attempt that produces output.

        Raises `AllProvidersFailed` when none did, `StreamBroken` when one failed midway.
        """
        candidates = self._attempts()
        for position, provider in enumerate(candidates):
            retried = False
            while True:
                started = False
                try:
                    await self._connect(provider)
                    timed = _timed(open_stream(provider), first_timeout_s, idle_timeout_s)
                    async with aclosing(timed) as items:
                        async for item in items:
                            started = True
                            yield item
                    return
                except Exception as e:  # provider bugs count as failures, never crash the call
                    if started:
                        self._reporter.provider_failed(provider, e, retried=False, fallback=False)
                        raise StreamBroken(describe(e)) from e
                    retry = not retried and _retry_safe(e)
                    has_next = position + 1 < len(candidates)
                    self._reporter.provider_failed(
                        provider, e, retried=retry, fallback=not retry and has_next
                    )
                    if not retry:
                        break
                    retried = True
        raise AllProvidersFailed("every provider failed")
