"""Golden files for both trunk kinds, and the rendered structure read back by an
independent parser of Asterisk's config syntax."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec
import pytest

from provisioning.models import InboundRoute, Trunk
from provisioning.naming import object_names
from provisioning.render import (
    DIALPLAN_FILENAME,
    PJSIP_FILENAME,
    render_all,
    render_pjsip,
    render_trunk,
)
from provisioning.validation import InvalidTrunkError
from tests.provisioning.asterisk_conf import parse_config
from tests.provisioning.trunk_samples import IP_TRUNK, REGISTRATION_TRUNK

GOLDEN = Path(__file__).parent / "golden"


def _golden(name: str, text: str) -> str:
    path = GOLDEN / name
    if os.environ.get("VOCALS_UPDATE_GOLDEN") == "1":
        path.write_text(text)
    return path.read_text()


@pytest.mark.parametrize(
    ("trunk", "golden"),
    [(REGISTRATION_TRUNK, "registration_trunk.conf"), (IP_TRUNK, "ip_trunk.conf")],
)
def test_trunk_matches_golden_file(trunk: Trunk, golden: str) -> None:
    text = render_pjsip([trunk])
    assert text == _golden(golden, text)


def test_render_all_matches_golden_files_and_is_order_independent() -> None:
    files = render_all([IP_TRUNK, REGISTRATION_TRUNK])
    assert set(files) == {PJSIP_FILENAME, DIALPLAN_FILENAME}
    assert files[PJSIP_FILENAME] == _golden("all_trunks.conf", files[PJSIP_FILENAME])
    assert files[DIALPLAN_FILENAME] == _golden("routes.conf", files[DIALPLAN_FILENAME])
    assert render_all([REGISTRATION_TRUNK, IP_TRUNK]) == files


def test_registration_trunk_objects() -> None:
    names = object_names(REGISTRATION_TRUNK)
    parsed = parse_config(render_trunk(REGISTRATION_TRUNK))
    assert not parsed.directives and not parsed.problems
    kinds = [(s.name, s.values("type")) for s in parsed.sections]
    assert kinds == [
        (names.auth, ["auth"]),
        (names.endpoint, ["aor"]),
        (names.endpoint, ["endpoint"]),
        (names.registration, ["registration"]),
        (names.endpoint, ["identify"]),
    ]
    auth, aor, endpoint, registration, identify = parsed.sections
    assert auth.values("password") == [REGISTRATION_TRUNK.password]
    assert aor.values("contact") == ["sip:sip.acme.example"]
    assert endpoint.values("allow") == ["alaw,ulaw"]
    assert endpoint.values("outbound_auth") == [names.auth]
    assert endpoint.values("context") == ["vocals-inbound-routes"]
    assert endpoint.values("set_var") == [
        "TENANT=tenant-acme",
        f"VOCALS_TRUNK_ID={REGISTRATION_TRUNK.id}",
    ]
    assert registration.values("client_uri") == ["sip:123456@acme.example"]
    assert registration.values("endpoint") == [names.endpoint]
    assert identify.values("match") == ["sip.acme.example"]


def test_ip_trunk_objects_tls_uri_escape_and_ipv6() -> None:
    parsed = parse_config(render_trunk(IP_TRUNK))
    types = [s.values("type")[0] for s in parsed.sections]
    assert types == ["aor", "endpoint", "identify"]
    aor, endpoint, identify = parsed.sections
    # `\;` is read back as a literal `;`: the URI parameter survives, nothing is commented out.
    assert aor.values("contact") == ["sip:[2001:db8::10]:5061;transport=tls"]
    assert endpoint.values("transport") == ["transport-tls"]
    assert "outbound_auth" not in endpoint.option_names()
    assert identify.values("match") == [
        "2001:db8::10/128",
        "203.0.113.0/24",
        "198.51.100.7",
        "2001:db8:1::5/128",
    ]


def test_dialplan_routes_each_did_into_stasis() -> None:
    text = render_all([REGISTRATION_TRUNK, IP_TRUNK], stasis_app="vocals-2")[DIALPLAN_FILENAME]
    parsed = parse_config(text)
    assert [s.name for s in parsed.sections] == ["vocals-inbound-routes"]
    entries = parsed.sections[0].entries
    assert ("exten", "=>", "+15551234567,1,Stasis(vocals-2,inbound,+15551234567)") in entries
    assert ("exten", "=>", "4930123456,1,Stasis(vocals-2,inbound,4930123456)") in entries


def test_one_did_on_two_trunks_is_refused_naming_the_route() -> None:
    clash = Trunk(
        id="43",
        tenant_id="tenant-b",
        name="other",
        kind="ip",
        host="203.0.113.50",
        inbound_routes=(InboundRoute(did="+15551234567", agent_id="agent-9"),),
    )
    with pytest.raises(InvalidTrunkError) as info:
        render_all([REGISTRATION_TRUNK, clash])
    assert [e.field for e in info.value.errors] == ["trunks[1].inbound_routes[0].did"]


def test_routes_without_a_trunk_are_rendered_and_checked() -> None:
    extra = (InboundRoute(did="+4940123", agent_id="agent-7"),)
    text = render_all([IP_TRUNK], routes=extra)[DIALPLAN_FILENAME]
    entries = parse_config(text).sections[0].entries
    assert ("exten", "=>", "+4940123,1,Stasis(vocals,inbound,+4940123)") in entries
    clash = (InboundRoute(did="4930123456", agent_id="agent-7"), InboundRoute("1\n[x]", "a"))
    with pytest.raises(InvalidTrunkError) as info:
        render_all([IP_TRUNK], routes=clash)
    assert [e.field for e in info.value.errors] == ["routes[0].did", "routes[1].did"]


def test_bad_stasis_app_is_refused() -> None:
    with pytest.raises(InvalidTrunkError):
        render_all([IP_TRUNK], stasis_app="vocals\n[evil]")


def test_object_names_survive_any_display_name() -> None:
    weird = Trunk(id="7", tenant_id="t", name="]\n#include x;--", kind="ip", host="192.0.2.1")
    assert object_names(weird).endpoint == "vocals-include-x-7"
    assert object_names(Trunk(id="8", tenant_id="t", name="!!!", kind="ip", host="h.example"))
    assert object_names(REGISTRATION_TRUNK).auth.endswith("-auth")
    assert len(object_names(REGISTRATION_TRUNK).auth) <= 64


def test_no_trunks_renders_empty_files_that_still_define_the_context() -> None:
    files = render_all([])
    pjsip = parse_config(files[PJSIP_FILENAME])
    assert pjsip.sections == [] and pjsip.directives == [] and pjsip.problems == []
    routes = parse_config(files[DIALPLAN_FILENAME])
    assert [(s.name, s.entries) for s in routes.sections] == [("vocals-inbound-routes", [])]


def test_registration_port_goes_to_the_server_uri_only() -> None:
    trunk = msgspec.structs.replace(REGISTRATION_TRUNK, port=5080)
    [registration] = [
        s
        for s in parse_config(render_trunk(trunk)).sections
        if s.values("type") == ["registration"]
    ]
    assert registration.values("server_uri") == ["sip:sip.acme.example:5080"]
    assert registration.values("client_uri") == ["sip:123456@acme.example"]
