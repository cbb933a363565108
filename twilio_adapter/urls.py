"""Our public URLs as Twilio sees them (from VOCALS_PUBLIC_URL): what it is told to fetch
and connect to, and what it signed."""

from __future__ import annotations

import uuid
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from litestar import Request

VOICE_PATH: Final = "/twilio/voice"
STREAM_PATH: Final = "/twilio/stream"
STATUS_PATH: Final = "/twilio/status"


class TwilioUrls:
    """Our public URLs as Twilio sees them (VOCALS_PUBLIC_URL)."""

    def __init__(self, public_url: str) -> None:
        parts = urlsplit(public_url.rstrip("/"))
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ValueError(f"public URL must be http(s)://host[:port][/prefix]: {public_url!r}")
        self._base = urlunsplit(parts._replace(query="", fragment=""))
        ws_scheme = "wss" if parts.scheme == "https" else "ws"
        self.stream = urlunsplit(parts._replace(scheme=ws_scheme, path=parts.path + STREAM_PATH))
        self._prefix = parts.path

    def voice(self, call_id: uuid.UUID | None = None) -> str:
        return self._base + VOICE_PATH + ("" if call_id is None else f"?call_id={call_id}")

    def status(self, call_id: uuid.UUID) -> str:
        return self._base + STATUS_PATH + f"?call_id={call_id}"

    def requested(self, request: Request[Any, Any, Any]) -> str:
        """The full URL Twilio requested (what it signed), from our public base."""
        path = request.url.path
        query = request.url.query
        return self._base + path.removeprefix(self._prefix) + (f"?{query}" if query else "")
