"""The server-sent-events reader on the edge cases of the format."""

from __future__ import annotations

from collections.abc import AsyncIterator

from providers.sse import ServerSentEvent, iter_sse


async def lines(*items: str) -> AsyncIterator[str]:
    for item in items:
        yield item


async def parse(*items: str) -> list[ServerSentEvent]:
    return [event async for event in iter_sse(lines(*items))]


async def test_events_split_on_blank_lines() -> None:
    events = await parse('data: {"a":1}', "", "data: [DONE]", "")
    assert events == [ServerSentEvent('{"a":1}'), ServerSentEvent("[DONE]")]


async def test_multi_line_data_comments_and_event_names() -> None:
    events = await parse(": keep-alive", "event: delta", "data: one", "data:two", "", "")
    assert events == [ServerSentEvent("one\ntwo", "delta")]


async def test_crlf_line_endings_and_unknown_fields() -> None:
    events = await parse("id: 7\r\n", "retry: 100\r\n", "data: x\r\n", "\r\n")
    assert events == [ServerSentEvent("x")]


async def test_stream_cut_before_final_blank_line_still_delivers() -> None:
    assert await parse("data: tail") == [ServerSentEvent("tail")]
