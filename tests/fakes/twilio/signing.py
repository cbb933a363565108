"""How Twilio signs its requests (X-Twilio-Signature), written from the published algorithm
independently of `twilio_adapter.signature`, so each checks the other."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]] = ()) -> str:
    """base64(HMAC-SHA1(token, url + name1 + value1 + ...)): names sorted, each name's distinct
    values sorted."""
    by_name: dict[str, set[str]] = {}
    for name, value in params:
        by_name.setdefault(name, set()).add(value)
    data = url
    for name, value in ((n, v) for n in sorted(by_name) for v in sorted(by_name[n])):
        data += name + value
    mac = hmac.new(auth_token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


def body_sha256(body: bytes) -> str:
    """The `bodySHA256` query value Twilio adds for JSON bodies."""
    return hashlib.sha256(body).hexdigest()
