"""Connection settings every cloud vendor accepts (vendors subclass to add their own)."""

from __future__ import annotations

from typing import Annotated

import httpx
import msgspec

from providers.retry import RetryPolicy


class CloudOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base URL, timeouts and retry budget of one cloud provider instance."""

    # The vendor's API root; proxies, regions and tests point it elsewhere.
    base_url: str | None = None
    connect_timeout: Annotated[float, msgspec.Meta(gt=0, le=60)] = 5.0
    # Longest wait for the vendor's next bytes (an HTTP body, a WebSocket answer).
    read_timeout: Annotated[float, msgspec.Meta(gt=0, le=300)] = 15.0
    # Tries of a request that produced nothing yet; 3 rides out one 429 burst.
    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=6)] = 3

    def retry_policy(self) -> RetryPolicy:
        """The backoff policy for this instance's retryable requests."""
        return RetryPolicy(attempts=self.max_attempts)

    def http_timeout(self) -> httpx.Timeout:
        """httpx timeouts: connect as configured, everything else the read timeout."""
        return httpx.Timeout(self.read_timeout, connect=self.connect_timeout)

    def url(self, default: str) -> str:
        """The configured base URL (or `default`) without a trailing slash."""
        return (self.base_url or default).rstrip("/")
