"""Slow and numerous clients against a real `vocals serve`: each request has a deadline, the
HTTP listener a connection cap, and the process the descriptors the system allows."""

from __future__ import annotations

import asyncio
import resource
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.exposure.process import VocalsProcess, vocals_serve

REQUEST_TIMEOUT_S = 1.0
MAX_CONNECTIONS = 5
# Far longer than the deadline: a connection still open after this was not cut.
CUT_WITHIN_S = 10.0
PARTIAL_REQUEST = b"GET /api/v1/openapi.json HTTP/1.1\r\nHost: vocals\r\n"
LOW_OPEN_FILES = 1024


@pytest.fixture(scope="module")
async def server(
    database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[VocalsProcess]:
    async with vocals_serve(
        database_url,
        redis_url,
        tmp_path_factory.mktemp("http-limits"),
        open_files=LOW_OPEN_FILES,
        http_request_timeout_s=str(REQUEST_TIMEOUT_S),
        http_max_connections=str(MAX_CONNECTIONS),
    ) as process:
        yield process


async def _closed_by_server(reader: asyncio.StreamReader) -> bool:
    try:
        async with asyncio.timeout(CUT_WITHIN_S):
            return await reader.read() == b""
    except ConnectionResetError:
        return True


async def test_a_request_trickled_byte_by_byte_is_cut_at_its_deadline(
    server: VocalsProcess,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)

    async def trickle() -> None:
        # A byte well within any idle timeout, for ever: only a deadline on the whole
        # request stops this client.
        for byte in PARTIAL_REQUEST * 100:
            writer.write(bytes([byte]))
            await asyncio.sleep(REQUEST_TIMEOUT_S / 4)

    slow = asyncio.create_task(trickle())
    try:
        assert await _closed_by_server(reader)
    finally:
        slow.cancel()
        writer.close()


async def test_connections_beyond_the_cap_are_closed_at_once(server: VocalsProcess) -> None:
    held = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(MAX_CONNECTIONS)]
    for _, writer in held:
        writer.write(PARTIAL_REQUEST)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(PARTIAL_REQUEST)
        async with asyncio.timeout(REQUEST_TIMEOUT_S / 2):
            assert await _closed_by_server(reader)
        writer.close()
    finally:
        for _, held_writer in held:
            held_writer.close()
    assert await _served_again(server)


async def _served_again(server: VocalsProcess) -> bool:
    """Once the server has seen the held connections go, it serves a client again."""
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=CUT_WITHIN_S) as client,
        asyncio.timeout(CUT_WITHIN_S),
    ):
        while True:
            try:
                response = await client.get("/api/v1/openapi.json")
            except httpx.TransportError:
                response = None
            if response is not None and response.status_code == 200:
                return True
            await asyncio.sleep(0.05)


def test_the_open_files_limit_is_raised_to_what_the_system_allows(
    server: VocalsProcess,
) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert server.open_files_limit() == (hard, hard)
