"""Audio sources over HTTP and WebSocket for the cloud TTS vendors, failures as `ProviderError`s.

Built on `providers.cloud` (status mapping: 401/403 final, 408/409/429/5xx transient honouring
`Retry-After`; WebSocket handshake refusals mapped the same way). What is TTS-specific: the
response body handed out as it arrives, and a WebSocket dropped at once when a sentence is
abandoned.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from contextlib import asynccontextmanager

import httpx
from websockets.asyncio.client import ClientConnection

from providers.cloud.websocket import open_websocket
from providers.http import error_for_status, error_for_transport


async def http_audio(
    vendor: str, client: httpx.AsyncClient, request: httpx.Request
) -> AsyncGenerator[bytes, None]:
    """Send `request` and yield its 200 response body as it arrives."""
    try:
        response = await client.send(request, stream=True)
    except httpx.TransportError as exc:
        raise error_for_transport(vendor, exc) from exc
    try:
        if response.status_code != 200:
            raise error_for_status(vendor, response, await response.aread())
        async for data in response.aiter_bytes():
            yield data
    except httpx.TransportError as exc:
        raise error_for_transport(vendor, exc) from exc
    finally:
        await response.aclose()


@asynccontextmanager
async def websocket(
    vendor: str, url: str, headers: Mapping[str, str], *, connect_timeout: float
) -> AsyncGenerator[ClientConnection, None]:
    """A WebSocket for one exchange: closed cleanly after it, dropped at once on failure."""
    ws = await open_websocket(vendor, url, headers, connect_timeout=connect_timeout)
    try:
        yield ws
    except BaseException:
        # Failed or abandoned (barge-in): drop the connection now rather than wait for a
        # closing handshake from a server that may be stalled.
        ws.transport.abort()
        raise
    await ws.close()
