"""`X-Twilio-Signature` validation (PROTOCOLS.md §7.4).

The signed string is the full URL Twilio requested, followed for form POSTs by every
distinct (name, value) pair sorted by name then value (a value repeated under one name counts
once, as in Twilio's own validators), with no separators. The signature is
base64(HMAC-SHA1(auth token, that string)). A JSON body is instead covered by a
`bodySHA256=<hex sha256 of the body>` query parameter, and only the URL is signed. Twilio's own
library accepts the URL with the port removed or with the default port added; so do we.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import parse_qs, urlsplit, urlunsplit

DEFAULT_PORTS = {"https": 443, "wss": 443, "http": 80, "ws": 80}


def compute_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]] = ()) -> str:
    """The signature Twilio sends for a request to `url` with these POST parameters."""
    message = url + "".join(name + value for name, value in sorted(set(params)))
    digest = hmac.new(auth_token.encode(), message.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def url_variants(url: str) -> tuple[str, ...]:
    """`url` without its port and with the scheme's default port (both are accepted)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    without = urlunsplit(parts._replace(netloc=prefix + host))
    default = DEFAULT_PORTS.get(parts.scheme)
    port = parts.port if parts.port is not None else default
    with_port = urlunsplit(parts._replace(netloc=f"{prefix}{host}:{port}")) if port else without
    return (without, with_port) if without != with_port else (without,)


def _matches(auth_token: str, url: str, params: list[tuple[str, str]], signature: str) -> bool:
    expected = signature.encode()
    return any(
        hmac.compare_digest(compute_signature(auth_token, candidate, params).encode(), expected)
        for candidate in url_variants(url)
    )


def valid_form_request(
    auth_token: str, url: str, params: Iterable[tuple[str, str]], signature: str | None
) -> bool:
    """True when `signature` signs a form-encoded POST (or a GET, with no params) to `url`."""
    if not signature:
        return False
    return _matches(auth_token, url, list(params), signature)


def valid_json_request(auth_token: str, url: str, body: bytes, signature: str | None) -> bool:
    """True when `signature` signs `url` and its `bodySHA256` query parameter hashes `body`."""
    if not signature:
        return False
    claimed = parse_qs(urlsplit(url).query).get("bodySHA256", [])
    if len(claimed) != 1:
        return False
    actual = hashlib.sha256(body).hexdigest()
    if not hmac.compare_digest(actual.encode(), claimed[0].lower().encode()):
        return False
    return _matches(auth_token, url, [], signature)
