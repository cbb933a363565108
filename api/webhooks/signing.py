"""The signature a receiver checks: HMAC-SHA256 over `{timestamp}.{body}` with the secret."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_VERSION = "v1"
TIMESTAMP_HEADER = "X-Vocals-Timestamp"
SIGNATURE_HEADER = "X-Vocals-Signature"
EVENT_ID_HEADER = "X-Vocals-Event-Id"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Vocals-Signature` value: `v1=<hex digest>`."""
    message = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def verify(secret: str, timestamp: int, body: bytes, signature: str) -> bool:
    """What a receiver does (used by tests and documented for integrators)."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)
