"""Audio over HTTP for the cloud TTS vendors, failures as `ProviderError`s.

Built on `providers.cloud` (status mapping: 401/403 final, 408/409/429/5xx transient honouring
`Retry-After`). What is TTS-specific: the response body handed out as it arrives.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import httpx

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
