"""Refusing webhook URLs that reach into the deployment's own network.

The host is resolved and every address it resolves to must be public; a tenant whose
`allow_private_webhooks` is set may deliver to private addresses (e.g. an on-premise receiver).
The request then goes to the address that was checked (`pinned_request`), so a DNS answer that
changes between the check and the connection (DNS rebinding) cannot redirect it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

ALLOWED_SCHEMES = frozenset({"http", "https"})


class BlockedDestination(Exception):
    """The URL may not be delivered to; the message says why."""


def check_url_shape(url: str) -> str | None:
    """Why `url` cannot be a webhook URL, or None (no DNS involved)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if parts.scheme not in ALLOWED_SCHEMES:
        return "must be an http or https URL"
    if not parts.hostname:
        return "must name a host"
    if parts.username or parts.password:
        return "must not carry credentials"
    if port == 0:
        return "must not use port 0"
    return None


def _is_private(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


async def resolve_public(url: str, *, allow_private: bool) -> list[str]:
    """The addresses `url`'s host resolves to; `BlockedDestination` if any is not allowed."""
    reason = check_url_shape(url)
    if reason is not None:
        raise BlockedDestination(f"url {reason}")
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise BlockedDestination(f"cannot resolve {host}: {exc}") from exc
    found = list(dict.fromkeys(str(info[4][0]) for info in infos))
    # IPv4 first: a receiver reachable over both is most often listening on IPv4.
    addresses = sorted(found, key=lambda text: ":" in text)
    if not allow_private:
        for text in addresses:
            if _is_private(ipaddress.ip_address(text.split("%", 1)[0])):
                raise BlockedDestination(
                    f"{host} resolves to {text}, a non-public address; the tenant does not "
                    "allow private webhook destinations"
                )
    return addresses


@dataclass(frozen=True, slots=True)
class PinnedRequest:
    """Where to send a webhook: the URL with its host replaced by a checked address, the
    `Host` header of the original URL, and the TLS server name to verify the certificate for."""

    url: str
    host_header: str
    sni_hostname: str


def pinned_request(url: str, address: str) -> PinnedRequest:
    """`url` aimed at `address` (one `resolve_public` returned) without changing what the
    receiver sees: same Host header, same TLS name."""
    parts = urlsplit(url)
    hostname = parts.hostname or ""
    literal = f"[{address}]" if ":" in address else address
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    return PinnedRequest(
        url=urlunsplit(parts._replace(netloc=netloc)),
        host_header=parts.netloc.rsplit("@", 1)[-1],
        sni_hostname=hostname,
    )
