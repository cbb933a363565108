"""Per-field whitelists for trunk data that ends up in Asterisk configuration files.

Every value that reaches pjsip.conf or extensions.conf passes one of these checks first.
Values are rejected, never escaped (PROTOCOLS.md §6.3): a line break, `[`, `;`, `#`, `\\`
or a comma in the wrong place would let a field add sections, directives, comments or list
items. Each check returns the reason a value is refused, or None when it is acceptable, so
the config API can reuse them one field at a time; `validate_trunk` reports every bad field.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Final

import msgspec

from provisioning.models import InboundRoute, Trunk

KINDS: Final = frozenset({"registration", "ip"})
TRANSPORTS: Final = frozenset({"udp", "tcp", "tls"})
DTMF_MODES: Final = frozenset({"rfc4733", "inband", "info", "auto"})
CODECS: Final = frozenset({"ulaw", "alaw", "g722", "opus"})

# Ids become part of Asterisk object names; UUIDs (36) and integer ids both fit.
ID_PATTERN: Final = re.compile(r"[A-Za-z0-9-]{1,36}")
# SIP user parts: no `@`, `:` or `;` (URI structure) and no `#` (must be %-escaped in URIs).
SIP_USER_PATTERN: Final = re.compile(r"[A-Za-z0-9_.+*-]{1,64}")
DID_PATTERN: Final = re.compile(r"\+?[0-9]{1,20}")
HOST_LABEL_PATTERN: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
# Characters that change the meaning of a config line even in the middle of a value.

MAX_NAME_LENGTH: Final = 64
MAX_HOST_LENGTH: Final = 253  # DNS limit for a full name
MAX_SECRET_LENGTH: Final = 128
MAX_CPS: Final = 100.0  # far above any carrier's per-trunk limit; catches unit mistakes
MAX_CALLS: Final = 10_000
MAX_ROUTES: Final = 1_000
MAX_MATCHES: Final = 32
MAX_CODECS: Final = len(CODECS)
# Shortest prefixes accepted in identify `match=`: wider ranges would let most of the
# Internet place calls as this trunk (carriers publish /19 to /32 signalling ranges).
MIN_IPV4_PREFIX: Final = 16
MIN_IPV6_PREFIX: Final = 32


class ValidationError(msgspec.Struct, frozen=True):
    """One refused field: `field` names it (dotted with an index for list items)."""

    field: str
    reason: str


class InvalidTrunkError(ValueError):
    """Raised when trunks cannot be rendered; `errors` lists every refused field."""

    def __init__(self, errors: Iterable[ValidationError]) -> None:
        self.errors = tuple(errors)
        super().__init__("; ".join(f"{e.field}: {e.reason}" for e in self.errors))


def _ascii_printable(value: str) -> bool:
    return all(0x20 <= ord(ch) < 0x7F for ch in value)


def validate_id(value: object) -> str | None:
    """Trunk, tenant and agent ids: letters, digits and `-`, at most 36 characters."""
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        return "must be 1-36 letters, digits or '-'"
    return None


def validate_name(value: object) -> str | None:
    """Display name: never rendered as such (object names use a slug), but kept printable."""
    if not isinstance(value, str) or not value.strip():
        return "must be a non-empty string"
    if len(value) > MAX_NAME_LENGTH:
        return f"must be at most {MAX_NAME_LENGTH} characters"
    if not value.isprintable():
        return "must not contain control characters or line breaks"
    if value != value.strip():
        return "must not start or end with whitespace"
    return None


def _one_of(value: object, allowed: frozenset[str]) -> str | None:
    if isinstance(value, str) and value in allowed:
        return None
    return f"must be one of {', '.join(sorted(allowed))}"


def validate_kind(value: object) -> str | None:
    """Trunk kind: `registration` or `ip`."""
    return _one_of(value, KINDS)


def validate_transport(value: object) -> str | None:
    """Transport: `udp`, `tcp` or `tls`."""
    return _one_of(value, TRANSPORTS)


def validate_dtmf_mode(value: object) -> str | None:
    """DTMF mode: `rfc4733`, `inband`, `info` or `auto`."""
    return _one_of(value, DTMF_MODES)


def _is_ip_literal(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return "%" not in value  # zone ids (fe80::1%eth0) mean nothing to a remote provider


def _is_hostname(value: str) -> bool:
    if len(value) > MAX_HOST_LENGTH:
        return False
    labels = value.split(".")
    if not all(HOST_LABEL_PATTERN.fullmatch(label) for label in labels):
        return False
    # An all-digit last label is a malformed IPv4 address (999.1.1.1), not a DNS name.
    return not labels[-1].isdigit()


def validate_host(value: object) -> str | None:
    """Host: a DNS name or an IPv4/IPv6 literal (no brackets, port or zone id)."""
    if not isinstance(value, str) or not (_is_ip_literal(value) or _is_hostname(value)):
        return "must be a hostname or an IPv4/IPv6 address"
    return None


def validate_port(value: object) -> str | None:
    """Port: None (default/SRV) or 1-65535."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        return "must be an integer from 1 to 65535"
    return None


def validate_sip_user(value: object) -> str | None:
    """SIP user parts (username, from_user): letters, digits and `_ . + * -`, at most 64."""
    if not isinstance(value, str) or not SIP_USER_PATTERN.fullmatch(value):
        return "must be 1-64 characters of letters, digits and _ . + * -"
    return None


def validate_secret(value: object) -> str | None:
    """Password: printable ASCII, no surrounding spaces, no leading `>`. `; # [ ] \\` are
    fine: the renderer escapes `;` as `\\;`, the only character Asterisk reads specially
    inside a value."""
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    if len(value) > MAX_SECRET_LENGTH:
        return f"must be at most {MAX_SECRET_LENGTH} characters"
    if not _ascii_printable(value):
        return "must be printable ASCII without line breaks or control characters"
    if value != value.strip():
        return "must not start or end with a space"
    if value.startswith(">"):
        # `password=>x` is read by Asterisk as the object form `=>` with the value "x".
        return "must not start with '>'"
    return None


def validate_did(value: object) -> str | None:
    """DID: an optional `+` and 1-20 digits."""
    if not isinstance(value, str) or not DID_PATTERN.fullmatch(value):
        return "must be an optional '+' followed by 1-20 digits"
    return None


def validate_codecs(value: object) -> str | None:
    """Codec preference list: 1-4 distinct names from ulaw, alaw, g722, opus."""
    if not isinstance(value, (tuple, list)) or not 1 <= len(value) <= MAX_CODECS:
        return f"must list 1 to {MAX_CODECS} codecs"
    if any(_one_of(codec, CODECS) for codec in value):
        return f"codecs must be among {sorted(CODECS)}"
    if len(set(value)) != len(value):
        return "must not repeat a codec"
    return None


def validate_max_cps(value: object) -> str | None:
    """Calls per second: a number above 0 and at most 100."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "must be a number"
    if not math.isfinite(value) or not 0 < value <= MAX_CPS:
        return f"must be above 0 and at most {MAX_CPS:g}"
    return None


def validate_max_calls(value: object) -> str | None:
    """Concurrent call limit: None (unlimited) or 1-10000."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CALLS:
        return f"must be an integer from 1 to {MAX_CALLS}"
    return None


def validate_match(value: object) -> str | None:
    """One identify source: IP address, CIDR network (not too wide) or hostname."""
    if not isinstance(value, str):
        return "must be a string"
    if "/" in value:
        try:
            network = ipaddress.ip_network(value, strict=True)
        except ValueError:
            return "must be a valid CIDR network with no host bits set"
        minimum = MIN_IPV4_PREFIX if network.version == 4 else MIN_IPV6_PREFIX
        if network.prefixlen < minimum:
            return f"network prefix must be at least /{minimum}"
        return None
    return validate_host(value)


def _optional(check: Callable[[object], str | None]) -> Callable[[object], str | None]:
    return lambda value: None if value is None else check(value)


def _check_list(
    field: str,
    value: object,
    limit: int,
    check: Callable[[object], str | None],
    errors: list[ValidationError],
) -> None:
    if not isinstance(value, (tuple, list)):
        errors.append(ValidationError(field, "must be a list"))
        return
    if len(value) > limit:
        errors.append(ValidationError(field, f"must have at most {limit} entries"))
        return
    for index, item in enumerate(value):
        reason = check(item)
        if reason is not None:
            errors.append(ValidationError(f"{field}[{index}]", reason))


def _route_errors(trunk: Trunk, errors: list[ValidationError]) -> None:
    routes = trunk.inbound_routes
    if not isinstance(routes, (tuple, list)):
        errors.append(ValidationError("inbound_routes", "must be a list"))
        return
    if len(routes) > MAX_ROUTES:
        errors.append(ValidationError("inbound_routes", f"must have at most {MAX_ROUTES}"))
        return
    seen: set[str] = set()
    for index, route in enumerate(routes):
        field = f"inbound_routes[{index}]"
        did = getattr(route, "did", None)
        reason = validate_did(did)
        if reason is not None:
            errors.append(ValidationError(f"{field}.did", reason))
        elif did in seen:
            errors.append(ValidationError(f"{field}.did", "is listed twice"))
        else:
            seen.add(str(did))
        reason = validate_id(getattr(route, "agent_id", None))
        if reason is not None:
            errors.append(ValidationError(f"{field}.agent_id", reason))


def _credential_errors(trunk: Trunk, errors: list[ValidationError]) -> None:
    has_user = trunk.username is not None
    has_secret = trunk.password is not None
    if trunk.kind == "registration":
        if not has_user:
            errors.append(ValidationError("username", "is required for registration trunks"))
        if not has_secret:
            errors.append(ValidationError("password", "is required for registration trunks"))
    elif has_user != has_secret:
        missing = "password" if has_user else "username"
        errors.append(ValidationError(missing, "is required when the other credential is set"))


def validate_trunk(trunk: Trunk) -> list[ValidationError]:
    """Every refused field of `trunk`, in field order; empty when it can be rendered."""
    errors: list[ValidationError] = []
    scalar_checks: tuple[tuple[str, Callable[[object], str | None]], ...] = (
        ("id", validate_id),
        ("tenant_id", validate_id),
        ("name", validate_name),
        ("kind", validate_kind),
        ("host", validate_host),
        ("port", validate_port),
        ("transport", validate_transport),
        ("username", _optional(validate_sip_user)),
        ("password", _optional(validate_secret)),
        ("from_user", _optional(validate_sip_user)),
        ("from_domain", _optional(validate_host)),
        ("codecs", validate_codecs),
        ("dtmf_mode", validate_dtmf_mode),
        ("max_cps", validate_max_cps),
        ("max_calls", validate_max_calls),
    )
    for field, check in scalar_checks:
        reason = check(getattr(trunk, field))
        if reason is not None:
            errors.append(ValidationError(field, reason))
    _credential_errors(trunk, errors)
    _route_errors(trunk, errors)
    _check_list("identify_match", trunk.identify_match, MAX_MATCHES, validate_match, errors)
    return errors


def validate_route(route: object) -> list[ValidationError]:
    """A route's own fields, named `did` and `agent_id`."""
    errors = []
    for field, check in (("did", validate_did), ("agent_id", validate_id)):
        reason = check(getattr(route, field, None))
        if reason is not None:
            errors.append(ValidationError(field, reason))
    return errors


def validate_trunks(
    trunks: Sequence[Trunk], routes: Sequence[InboundRoute] = ()
) -> list[ValidationError]:
    """Every refused field across `trunks` (named `trunks[i].<field>`) and `routes` not tied
    to a trunk (`routes[i].<field>`), plus clashes: the same trunk id twice, or one DID
    routed twice (DIDs are unique across tenants: one number rings one agent)."""
    errors: list[ValidationError] = []
    ids: set[str] = set()
    dids: dict[str, str] = {}

    def claim(did: str, owner: str, field: str) -> None:
        first = dids.setdefault(did, owner)
        if first != owner:
            errors.append(ValidationError(field, f"is already routed by {first}"))

    for index, trunk in enumerate(trunks):
        prefix = f"trunks[{index}]"
        own = validate_trunk(trunk)
        errors += [ValidationError(f"{prefix}.{e.field}", e.reason) for e in own]
        if own:
            continue
        if trunk.id in ids:
            errors.append(ValidationError(f"{prefix}.id", "is used by another trunk"))
        ids.add(trunk.id)
        for route_index, route in enumerate(trunk.inbound_routes):
            claim(route.did, f"trunk {trunk.id}", f"{prefix}.inbound_routes[{route_index}].did")
    for index, route in enumerate(routes):
        own = validate_route(route)
        errors += [ValidationError(f"routes[{index}].{e.field}", e.reason) for e in own]
        if not own:
            claim(route.did, f"routes[{index}]", f"routes[{index}].did")
    return errors
