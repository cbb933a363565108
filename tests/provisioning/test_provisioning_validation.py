"""Whitelist validation: every bad field is reported, each by name."""

from __future__ import annotations

import msgspec
import pytest

from provisioning.models import InboundRoute, Trunk
from provisioning.validation import (
    ValidationError,
    validate_host,
    validate_match,
    validate_secret,
    validate_trunk,
)
from tests.provisioning.trunk_samples import IP_TRUNK, REGISTRATION_TRUNK


def test_sample_trunks_are_valid() -> None:
    assert validate_trunk(REGISTRATION_TRUNK) == []
    assert validate_trunk(IP_TRUNK) == []


def test_all_bad_fields_are_reported_by_name() -> None:
    bad = msgspec.structs.replace(
        REGISTRATION_TRUNK,
        host="sip.example.com\n[evil]",
        port=70000,
        transport="sctp",
        password=" pass;--",
        from_user="a@b",
        codecs=("ulaw", "gsm"),
        dtmf_mode="rfc2833",
        max_cps=0.0,
        inbound_routes=(InboundRoute("+1555", "a"), InboundRoute("555#1", "a")),
        identify_match=("0.0.0.0/0", "203.0.113.1,0.0.0.0/0"),
    )
    fields = [error.field for error in validate_trunk(bad)]
    assert fields == [
        "host",
        "port",
        "transport",
        "password",
        "from_user",
        "codecs",
        "dtmf_mode",
        "max_cps",
        "inbound_routes[1].did",
        "identify_match[0]",
        "identify_match[1]",
    ]


def test_registration_trunk_needs_credentials_and_ip_trunk_needs_both_or_none() -> None:
    no_creds = msgspec.structs.replace(REGISTRATION_TRUNK, username=None, password=None)
    assert {e.field for e in validate_trunk(no_creds)} == {"username", "password"}
    half = msgspec.structs.replace(IP_TRUNK, username="user")
    assert validate_trunk(half) == [
        ValidationError("password", "is required when the other credential is set")
    ]


def test_wrong_types_are_reported_not_raised() -> None:
    bad = Trunk(
        id=7,  # type: ignore[arg-type]
        tenant_id=None,  # type: ignore[arg-type]
        name="x",
        kind=["ip"],  # type: ignore[arg-type]
        host=b"h",  # type: ignore[arg-type]
        port=True,
        codecs=[["ulaw"]],  # type: ignore[arg-type]
        max_calls=1.5,  # type: ignore[arg-type]
        inbound_routes=(("+1", "a"),),  # type: ignore[arg-type]
    )
    fields = {e.field for e in validate_trunk(bad)}
    assert fields == {
        "id",
        "tenant_id",
        "kind",
        "host",
        "port",
        "codecs",
        "max_calls",
        "inbound_routes[0].did",
        "inbound_routes[0].agent_id",
    }


def test_duplicate_did_on_one_trunk() -> None:
    twice = msgspec.structs.replace(
        IP_TRUNK, inbound_routes=(InboundRoute("123", "a"), InboundRoute("123", "b"))
    )
    assert validate_trunk(twice) == [ValidationError("inbound_routes[1].did", "is listed twice")]


@pytest.mark.parametrize(
    "host",
    ["sip.example.com", "203.0.113.1", "2001:db8::1", "localhost", "a-b.c-d.example"],
)
def test_hosts_accepted(host: str) -> None:
    assert validate_host(host) is None


@pytest.mark.parametrize(
    "host",
    [
        "",
        "-bad.example",
        "bad-.example",
        "999.1.1.1",
        "sip.example.com:5060",
        "[2001:db8::1]",
        "fe80::1%eth0",
        "a" * 64 + ".example",
        "host name",
        "x.example;lr",
        "x,y",
    ],
)
def test_hosts_refused(host: str) -> None:
    assert validate_host(host) is not None


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("203.0.113.0/24", True),
        ("203.0.0.0/16", True),
        ("203.0.0.0/15", False),
        ("203.0.113.1/24", False),
        ("2001:db8::/32", True),
        ("2001::/16", False),
        ("gw.example", True),
    ],
)
def test_match_prefix_limits(value: str, ok: bool) -> None:
    assert (validate_match(value) is None) is ok


@pytest.mark.parametrize(
    ("secret", "ok"),
    [
        ("Ab1!\"$%&'()*+,-./:<=>?@^_`{|}~", True),
        ("inner space", True),
        (" lead", False),
        ("trail ", False),
        ("a;b", True),
        ("a#b", True),
        ("a[b", True),
        ("a]b", True),
        ("a\\b", True),
        ("a;--b--;\\", True),
        ("a\nb", False),
        ("a\tb", False),
        ("caf\u00e9", False),
        (">x", False),
        ("x" * 129, False),
    ],
)
def test_secret_charset(secret: str, ok: bool) -> None:
    assert (validate_secret(secret) is None) is ok


def test_repr_never_shows_the_password() -> None:
    assert REGISTRATION_TRUNK.password is not None
    assert REGISTRATION_TRUNK.password not in repr(REGISTRATION_TRUNK)
    assert REGISTRATION_TRUNK.password not in str(REGISTRATION_TRUNK)


def test_rich_repr_masks_the_password() -> None:
    shown = dict(REGISTRATION_TRUNK.__rich_repr__())
    assert shown["password"] == "****"
    assert shown["username"] == REGISTRATION_TRUNK.username
