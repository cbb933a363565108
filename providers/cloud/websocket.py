"""WebSocket connections to cloud vendors, every failure a `ProviderError`.

A refused handshake carries an HTTP status and is mapped like any HTTP answer (401/403
final, 429/5xx transient with `Retry-After`); a connection that drops or stays silent
mid-stream is transient.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from providers.base import ProviderError, ProviderTimeout
from providers.http import error_for_status
from providers.retry import RetryPolicy, with_retries

# Largest message accepted: base64 audio of a long sentence fits with room to spare.
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
POLICY_VIOLATION = 1008


async def open_websocket(
    vendor: str, url: str, headers: Mapping[str, str], *, connect_timeout: float
) -> ClientConnection:
    """An open WebSocket to `url`, or the `ProviderError` for why not."""
    try:
        return await connect(
            url,
            additional_headers=dict(headers),
            open_timeout=connect_timeout,
            max_size=MAX_MESSAGE_BYTES,
            compression=None,
        )
    except InvalidStatus as exc:
        refused = exc.response
        body = bytes(refused.body or b"")
        response = httpx.Response(
            refused.status_code, headers=list(refused.headers.raw_items()), content=body
        )
        raise error_for_status(vendor, response, body) from exc
    except TimeoutError as exc:
        raise ProviderTimeout(f"{vendor}: WebSocket handshake timed out") from exc
    except (OSError, InvalidHandshake) as exc:
        message = f"{vendor}: WebSocket connect failed: {type(exc).__name__}: {exc}"
        raise ProviderError(message, retryable=True) from exc


async def open_websocket_with_retries(
    vendor: str,
    url: str,
    headers: Mapping[str, str],
    *,
    connect_timeout: float,
    policy: RetryPolicy,
) -> ClientConnection:
    """`open_websocket`, retried on transient failures (never on a refused credential)."""

    async def attempt() -> ClientConnection:
        return await open_websocket(vendor, url, headers, connect_timeout=connect_timeout)

    return await with_retries(attempt, policy, what=f"{vendor} connect")


async def receive(vendor: str, ws: ClientConnection, within: float | None) -> str | bytes:
    """The next message; `ProviderError` when the connection drops or is silent `within` s
    (`None`: wait as long as it takes, the connection's pings still detect a dead peer)."""
    try:
        async with asyncio.timeout(within):
            return await ws.recv()
    except TimeoutError as exc:
        raise ProviderTimeout(f"{vendor}: no answer for {within} s") from exc
    except ConnectionClosed as exc:
        raise closed_error(vendor, exc) from exc


async def send(vendor: str, ws: ClientConnection, message: str | bytes) -> None:
    """Send one message; a dropped connection is a transient `ProviderError`."""
    try:
        await ws.send(message)
    except ConnectionClosed as exc:
        raise closed_error(vendor, exc) from exc


def closed_error(vendor: str, exc: ConnectionClosed) -> ProviderError:
    """The error for a WebSocket that closed while we still expected messages."""
    code = exc.rcvd.code if exc.rcvd is not None else None
    reason = exc.rcvd.reason if exc.rcvd is not None else ""
    detail = f"code {code}: {reason}" if code is not None else "no close frame"
    # 1008 (policy violation) is how vendors close on a refused key, quota or bad data:
    # the same request would be closed again.
    retryable = code != POLICY_VIOLATION
    return ProviderError(f"{vendor}: connection closed mid-stream ({detail})", retryable=retryable)
