"""Server-sent events (the `text/event-stream` format) read from a stream of lines."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

import msgspec


class ServerSentEvent(msgspec.Struct, frozen=True):
    """One dispatched event: its type (`message` unless named) and its joined data lines."""

    data: str
    event: str = "message"


async def iter_sse(lines: AsyncIterable[str]) -> AsyncIterator[ServerSentEvent]:
    """Parse events per the WHATWG EventSource rules (comments skipped, `data` lines joined)."""
    data: list[str] = []
    event = "message"
    async for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data:
                yield ServerSentEvent("\n".join(data), event)
            data, event = [], "message"
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "data":
            data.append(value)
        elif field == "event":
            event = value
    if data:
        # A stream cut without the final blank line still delivers what arrived.
        yield ServerSentEvent("\n".join(data), event)
