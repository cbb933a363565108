"""Signed, short-lived stream tokens: what ties a Media Streams WebSocket to its call.

The TwiML answer carries the token as a `<Parameter>`; the stream's `start` message brings it
back in `customParameters`. It is sealed with the project's `SecretBox` (AES-GCM, authenticated
with its own purpose label), so a stream can neither forge nor alter the tenant, call or agent
it claims, and the key rotates with every other secret.
"""

from __future__ import annotations

import base64
import binascii
import time
import uuid
from typing import Final, Literal

import msgspec

from store.secrets import SecretBox, SecretError

PURPOSE: Final = "twilio.stream_token"
# Twilio opens the stream within a second or two of fetching the TwiML; a minute leaves room
# for a slow network without letting a leaked token be replayed much later.
TOKEN_TTL_S: Final = 60.0


class StreamClaims(msgspec.Struct, kw_only=True, frozen=True):
    """What the webhook decided about the call; the stream trusts nothing else."""

    tenant_id: uuid.UUID
    call_id: uuid.UUID
    agent_id: uuid.UUID
    call_sid: str
    direction: Literal["inbound", "outbound"]
    from_number: str = ""
    to_number: str = ""
    expires_at: float = 0.0


class InvalidToken(Exception):
    """The token is malformed, forged, sealed for another purpose or expired."""


class StreamTokens:
    """Seals and opens `StreamClaims`."""

    def __init__(self, box: SecretBox, *, ttl_s: float = TOKEN_TTL_S) -> None:
        self._box = box
        self._ttl_s = ttl_s
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder(StreamClaims)

    def issue(self, claims: StreamClaims, *, now: float | None = None) -> str:
        expires = (time.time() if now is None else now) + self._ttl_s
        payload = self._encoder.encode(msgspec.structs.replace(claims, expires_at=expires))
        sealed = self._box.encrypt(payload.decode(), PURPOSE)
        return base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def open(self, token: str, *, now: float | None = None) -> StreamClaims:
        try:
            sealed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            claims = self._decoder.decode(self._box.decrypt(sealed, PURPOSE))
        except (binascii.Error, ValueError, SecretError, msgspec.DecodeError) as exc:
            raise InvalidToken(f"stream token rejected: {type(exc).__name__}") from exc
        if claims.expires_at < (time.time() if now is None else now):
            raise InvalidToken("stream token expired")
        return claims
