"""httpx helpers shared by HTTP vendors: status and transport errors as `ProviderError`s."""

from __future__ import annotations

import httpx

from providers.base import ProviderError, ProviderTimeout
from providers.retry import RetryableWithDelay

# Longest error body quoted in an exception message: enough for the vendor's reason.
_BODY_EXCERPT = 300


def is_retryable_status(status: int) -> bool:
    """408, 409 (OpenAI's "try again"), 429 and 5xx are transient; other 4xx (401/403) are not."""
    return status in (408, 409, 429) or status >= 500


def error_for_status(vendor: str, response: httpx.Response, body: bytes) -> ProviderError:
    """The `ProviderError` for a non-2xx `response` whose body has been read."""
    status = response.status_code
    text = body[:_BODY_EXCERPT].decode("utf-8", "replace").strip()
    if status in (401, 403):
        message = f"{vendor}: credential refused (HTTP {status}): {text}"
    else:
        message = f"{vendor}: HTTP {status}: {text}"
    if not is_retryable_status(status):
        return ProviderError(message, retryable=False, status=status)
    retry_after = _retry_after_seconds(response)
    if retry_after is not None:
        return RetryableWithDelay(message, status=status, retry_after=retry_after)
    return ProviderError(message, retryable=True, status=status)


def error_for_transport(vendor: str, exc: httpx.TransportError) -> ProviderError:
    """The `ProviderError` for a connection-level failure (all transient)."""
    if isinstance(exc, httpx.TimeoutException):
        return ProviderTimeout(f"{vendor}: {type(exc).__name__}: {exc or 'timed out'}")
    return ProviderError(f"{vendor}: {type(exc).__name__}: {exc}", retryable=True)


def _retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None  # an HTTP date: rare from APIs, and backoff serves as well
