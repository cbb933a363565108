"""Refusing tenants' URLs (webhooks, provider base URLs) that reach into the deployment's own
network.

When a URL is saved, `refusal` reads its host as the resolver will (`127.1`, `2130706433`,
`0x7f.1` and `localhost.` are loopback) without asking DNS. Before each use the host is
resolved and every address it resolves to must be public, unless the operator allows private
destinations (`VOCALS_ALLOW_PRIVATE_URLS`: on-premise receivers, local model servers). A
webhook then goes to the address that was checked (`pinned_request`), so a DNS answer that
changes between the check and the connection (DNS rebinding) cannot redirect it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

ALLOWED_SCHEMES = frozenset({"http", "https"})
# Provider base URLs may also name a WebSocket endpoint (streaming speech vendors).
PROVIDER_SCHEMES = frozenset({"http", "https", "ws", "wss"})
_TLS_SCHEMES = frozenset({"https", "wss"})


class BlockedDestination(Exception):
    """The URL may not be delivered to; the message says why."""


def check_url_shape(url: str, schemes: frozenset[str] = ALLOWED_SCHEMES) -> str | None:
    """Why `url` cannot be a destination, or None (no DNS involved)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if parts.scheme not in schemes:
        return f"must be a URL starting with {' or '.join(f'{s}://' for s in sorted(schemes))}"
    if not parts.hostname:
        return "must name a host"
    if parts.username or parts.password:
        return "must not carry credentials"
    if port == 0:
        return "must not use port 0"
    return None


def _local_name(host: str) -> bool:
    """`localhost` and its subdomains (RFC 6761), with or without the root's trailing dot."""
    name = host.rstrip(".").lower()
    return name == "localhost" or name.endswith(".localhost")


def literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address `host` denotes without DNS, in every form the resolver accepts
    (`127.1`, `2130706433`, `0x7f.1`, `0177.0.0.1`, a trailing dot), or None for a name."""
    try:
        infos = socket.getaddrinfo(
            host.rstrip("."), None, flags=socket.AI_NUMERICHOST, type=socket.SOCK_STREAM
        )
    except (OSError, UnicodeError):
        return None
    return ipaddress.ip_address(str(infos[0][4][0]).split("%", 1)[0])


def refusal(
    url: str, *, allow_private: bool, schemes: frozenset[str] = ALLOWED_SCHEMES
) -> str | None:
    """Why `url` may not be saved as a destination, or None. Names are checked again, resolved,
    before each use (DNS may change); this refuses what is private whatever DNS says."""
    reason = check_url_shape(url, schemes)
    if reason is not None or allow_private:
        return reason
    host = urlsplit(url).hostname or ""
    address = literal_address(host)
    if _local_name(host) or (address is not None and _is_private(address)):
        return "points at a non-public address and private destinations are not allowed"
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


async def resolve_public(
    url: str, *, allow_private: bool, schemes: frozenset[str] = ALLOWED_SCHEMES
) -> list[str]:
    """The addresses `url`'s host resolves to; `BlockedDestination` if any is not allowed."""
    reason = check_url_shape(url, schemes)
    if reason is not None:
        raise BlockedDestination(f"url {reason}")
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme in _TLS_SCHEMES else 80)
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
                    f"{host} resolves to a non-public address and private destinations are "
                    "not allowed"
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
