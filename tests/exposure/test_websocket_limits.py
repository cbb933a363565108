"""An oversized WebSocket message against a real `vocals serve`: refused by the server as it
arrives (close 1009), not buffered whole and refused by the Twilio stream afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from tests.exposure.process import VocalsProcess, vocals_serve
from twilio_adapter.urls import STREAM_PATH

MESSAGE_BYTES = 15 * 1024 * 1024
CONCURRENT = 8
# The 8 messages together are 120 MB; the process may grow by a fraction of one.
MAX_GROWTH_BYTES = 32 * 1024 * 1024
CLOSE_MESSAGE_TOO_BIG = 1009
TIMEOUT_S = 30.0


@pytest.fixture(scope="module")
async def server(
    database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[VocalsProcess]:
    async with vocals_serve(
        database_url, redis_url, tmp_path_factory.mktemp("ws-limits")
    ) as process:
        yield process


async def _send_oversized(url: str) -> int | None:
    """Send one oversized message; the close code the server answered with."""
    async with websockets.connect(url, max_size=None, open_timeout=TIMEOUT_S) as socket:
        try:
            await socket.send("x" * MESSAGE_BYTES)
            await socket.recv()
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else None
    return None


async def test_an_oversized_stream_message_closes_with_1009_without_buffering_it(
    server: VocalsProcess,
) -> None:
    url = f"ws://127.0.0.1:{server.port}{STREAM_PATH}"
    before = server.rss_bytes()
    async with asyncio.timeout(TIMEOUT_S):
        codes = await asyncio.gather(*(_send_oversized(url) for _ in range(CONCURRENT)))
    assert codes == [CLOSE_MESSAGE_TOO_BIG] * CONCURRENT
    assert server.rss_bytes() - before < MAX_GROWTH_BYTES
