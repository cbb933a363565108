"""Retry with exponential backoff for provider requests, driven by `ProviderError.retryable`.

`retryable` means the failure is transient (timeout, 429, 5xx, a dropped connection): the same
request may succeed if sent again. Whether sending it again is *safe* is the caller's call: a
provider retries only requests that have produced no output yet (opening a stream, a
credential check); once text or audio has been handed out, errors propagate to the pipeline,
which knows what the caller already heard.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import msgspec
import structlog

from providers.base import ProviderError

T = TypeVar("T")

log = structlog.get_logger(__name__)


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """How often and how patiently to retry a transient failure."""

    # Total tries including the first; 3 rides out one 429 burst without stalling a caller
    # who is waiting in silence.
    attempts: int = 3
    base_delay: float = 0.25
    max_delay: float = 2.0

    def delay(self, retry_number: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry `retry_number` (1-based): the server's `Retry-After`
        when given (capped), else exponential backoff with jitter in [d/2, d]."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        ceiling = min(self.base_delay * 2.0 ** (retry_number - 1), self.max_delay)
        return ceiling / 2 + random.uniform(0, ceiling / 2)


class RetryableWithDelay(ProviderError):
    """A transient failure whose server asked for a specific wait (HTTP `Retry-After`)."""

    def __init__(self, message: str, *, status: int | None, retry_after: float) -> None:
        super().__init__(message, retryable=True, status=status)
        self.retry_after = retry_after


async def with_retries(attempt: Callable[[], Awaitable[T]], policy: RetryPolicy, *, what: str) -> T:
    """Run `attempt` until it succeeds, fails for good, or the policy's attempts are used."""
    number = 1
    while True:
        try:
            return await attempt()
        except ProviderError as exc:
            if not exc.retryable or number >= policy.attempts:
                raise
            retry_after = exc.retry_after if isinstance(exc, RetryableWithDelay) else None
            wait = policy.delay(number, retry_after)
            log.warning("provider_retry", what=what, error=str(exc), status=exc.status, wait_s=wait)
            await asyncio.sleep(wait)
            number += 1
