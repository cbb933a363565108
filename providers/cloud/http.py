"""One-shot HTTP requests to cloud vendors, retried on transient failures."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from providers.http import error_for_status, error_for_transport
from providers.retry import RetryPolicy, with_retries


async def send_once(
    vendor: str, client: httpx.AsyncClient, request: httpx.Request
) -> httpx.Response:
    """Send `request` and return its 2xx response with the body read; else the mapped error."""
    try:
        response = await client.send(request)
    except httpx.TransportError as exc:
        raise error_for_transport(vendor, exc) from exc
    if not response.is_success:
        raise error_for_status(vendor, response, response.content)
    return response


async def send_with_retries(
    vendor: str,
    client: httpx.AsyncClient,
    build: Callable[[], httpx.Request],
    policy: RetryPolicy,
    *,
    what: str,
) -> httpx.Response:
    """`send_once` with retries; `build` makes a fresh request per try (bodies are streams)."""

    async def attempt() -> httpx.Response:
        return await send_once(vendor, client, build())

    return await with_retries(attempt, policy, what=f"{vendor} {what}")


async def open_stream_with_retries(
    vendor: str,
    client: httpx.AsyncClient,
    build: Callable[[], httpx.Request],
    policy: RetryPolicy,
    *,
    what: str,
) -> httpx.Response:
    """A 200 response whose body is still to be streamed (the caller closes it), retrying
    transient failures until the status line is in; nothing is retried once it streams."""

    async def attempt() -> httpx.Response:
        try:
            response = await client.send(build(), stream=True)
        except httpx.TransportError as exc:
            raise error_for_transport(vendor, exc) from exc
        if response.status_code != 200:
            body = await response.aread()
            await response.aclose()
            raise error_for_status(vendor, response, body)
        return response

    return await with_retries(attempt, policy, what=f"{vendor} {what}")
