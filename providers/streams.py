"""Helpers for the async iterators providers return."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any


async def close_stream(stream: AsyncIterator[Any]) -> None:
    """Close `stream` now if it can be closed (an async generator), so an abandoned request
    releases its HTTP response, socket or worker thread at once rather than at GC."""
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()
