"""Property tests: no field value, however crafted, adds a section, a directive, an
include, a comment or a list item. Either validation refuses the trunk (and rendering
raises), or the rendered files, read back by the independent parser in asterisk_conf.py,
hold exactly the expected sections, keys and values."""

from __future__ import annotations

import ipaddress
import string

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from provisioning.models import InboundRoute, Trunk
from provisioning.naming import object_names
from provisioning.render import DIALPLAN_FILENAME, PJSIP_FILENAME, render_all
from provisioning.validation import InvalidTrunkError, validate_trunk
from store.numbers import dialled_forms
from tests.provisioning.asterisk_conf import ParsedConfig, Section, parse_config

INJECTIONS = [
    "x\n[evil]\ntype=endpoint",
    "x\r\n#include /etc/passwd",
    "#exec /bin/sh",
    "a;--",
    "a--;b",
    "a\\;b",
    "a;comment",
    "203.0.113.9,0.0.0.0/0",
    "0.0.0.0/0",
    "::/0",
    "10.0.0.0/4",
    "a\\",
    " lead",
    "trail ",
    "a\x00b",
    "a\x7fb",
    "caf\u00e9",
    "line\u2028sep",
    "[section]",
    "name](+)",
    "ulaw,alaw",
    "x=>y",
    "x+=y",
    ">starts-like-an-object",
    "fe80::1%eth0",
    "${EXTEN}",
    "a" * 300,
    "",
]
NASTY = st.one_of(
    st.sampled_from(INJECTIONS),
    st.text(alphabet=st.sampled_from(list("\n\r[];#\\,=+-()!\t\x00 ab1.:/%")), max_size=12),
    st.text(max_size=12),
)
HOSTS = st.sampled_from(
    ["sip.example.com", "203.0.113.10", "2001:db8::1", "carrier-1.example.net", "h"]
)
USERS = st.text(alphabet=string.ascii_letters + string.digits + "_.+*-", min_size=1, max_size=64)
SECRET_ALPHABET = "".join(map(chr, range(0x20, 0x7F)))  # ; # [ ] \ included: escaped
SECRETS = st.text(alphabet=SECRET_ALPHABET, min_size=1, max_size=128).filter(
    lambda s: s == s.strip() and not s.startswith(">")
)
DIDS = st.from_regex(r"\A\+?[0-9]{1,20}\Z")
IDS = st.from_regex(r"\A[A-Za-z0-9-]{1,36}\Z")
MATCHES = st.sampled_from(["198.51.100.0/24", "198.51.100.7", "2001:db8:5::/48", "gw.example"])


NAMES = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")),
    min_size=1,
    max_size=64,
).filter(lambda s: s == s.strip() and s.isprintable() and bool(s))
CODEC_NAMES = ["ulaw", "alaw", "g722", "opus"]
FIELDS = (
    "id",
    "tenant_id",
    "name",
    "kind",
    "host",
    "transport",
    "username",
    "password",
    "from_user",
    "from_domain",
    "codec",
    "dtmf_mode",
    "did",
    "match",
)


@st.composite
def trunks(draw: st.DrawFn, hostile: bool) -> Trunk:
    """A trunk with valid values, except (when hostile) one field drawn from NASTY."""
    nasty = draw(st.sampled_from(FIELDS)) if hostile else None

    def pick(field: str, valid: st.SearchStrategy[object]) -> object:
        return draw(NASTY if field == nasty else valid)

    kind = pick("kind", st.sampled_from(["registration", "ip"]))
    credentials = kind == "registration" or draw(st.booleans())
    codecs = draw(
        st.lists(
            st.sampled_from(["ulaw", "alaw", "g722", "opus"]), min_size=1, max_size=4, unique=True
        )
    )
    if nasty == "codec":
        codecs[draw(st.integers(0, len(codecs) - 1))] = draw(NASTY)
    dids = draw(st.lists(DIDS, max_size=3, unique=True))
    if nasty == "did":
        dids.append(draw(NASTY))
    matches = draw(st.lists(MATCHES, max_size=2)) + ([draw(NASTY)] if nasty == "match" else [])
    return Trunk(
        id=pick("id", IDS),  # type: ignore[arg-type]
        tenant_id=pick("tenant_id", IDS),  # type: ignore[arg-type]
        name=pick("name", NAMES),  # type: ignore[arg-type]
        kind=kind,  # type: ignore[arg-type]
        host=pick("host", HOSTS),  # type: ignore[arg-type]
        port=draw(st.one_of(st.none(), st.integers(1, 65535))),
        transport=pick("transport", st.sampled_from(["udp", "tcp", "tls"])),  # type: ignore[arg-type]
        username=pick("username", USERS) if credentials else None,  # type: ignore[arg-type]
        password=pick("password", SECRETS) if credentials else None,  # type: ignore[arg-type]
        from_user=pick("from_user", st.one_of(st.none(), USERS)),  # type: ignore[arg-type]
        from_domain=pick("from_domain", st.one_of(st.none(), HOSTS)),  # type: ignore[arg-type]
        codecs=tuple(codecs),  # type: ignore[arg-type]
        dtmf_mode=pick("dtmf_mode", st.sampled_from(["rfc4733", "inband", "info", "auto"])),  # type: ignore[arg-type]
        inbound_routes=tuple(InboundRoute(did=d, agent_id="agent-1") for d in dids),
        identify_match=tuple(matches),
    )


def _expected_sources(trunk: Trunk) -> list[str]:
    sources: list[str] = []
    for source in (trunk.host, *trunk.identify_match):
        try:
            address = ipaddress.ip_address(source)
        except ValueError:
            value = source
        else:
            value = f"{source}/128" if address.version == 6 else source
        if value not in sources:
            sources.append(value)
    return sources


def _by_type(parsed: ParsedConfig) -> dict[str, Section]:
    return {section.values("type")[0]: section for section in parsed.sections}


def _check_pjsip(trunk: Trunk, text: str) -> None:
    parsed = parse_config(text)
    names = object_names(trunk)
    assert parsed.directives == []
    assert parsed.problems == []
    assert not parsed.unterminated_block_comment
    assert parsed.comments == 2  # the file header and the "; trunk <id>" line
    expected_types = ["aor", "endpoint", "identify"]
    if trunk.password is not None:
        expected_types.insert(0, "auth")
    if trunk.kind == "registration":
        expected_types.insert(-1, "registration")
    assert [s.options for s in parsed.sections] == [None] * len(expected_types)
    assert [s.values("type") for s in parsed.sections] == [[t] for t in expected_types]
    sections = _by_type(parsed)
    for kind, section in sections.items():
        expected_name = {"auth": names.auth, "registration": names.registration}
        assert section.name == expected_name.get(kind, names.endpoint)
        assert all(op == "=" for _, op, _ in section.entries)
    endpoint_keys = ["type", "transport", "context", "disallow", "allow", "aors"]
    endpoint_keys += ["outbound_auth"] if trunk.password is not None else []
    endpoint_keys += ["from_user"] if trunk.from_user is not None else []
    endpoint_keys += ["from_domain"] if trunk.from_domain is not None else []
    endpoint_keys += ["direct_media", "rtp_symmetric", "force_rport", "rewrite_contact"]
    endpoint_keys += ["dtmf_mode", "set_var", "set_var"]
    endpoint = sections["endpoint"]
    assert endpoint.option_names() == endpoint_keys
    assert endpoint.values("allow") == [",".join(trunk.codecs)]
    assert endpoint.values("dtmf_mode") == [trunk.dtmf_mode]
    assert endpoint.values("from_user") == ([trunk.from_user] if trunk.from_user else [])
    assert endpoint.values("from_domain") == ([trunk.from_domain] if trunk.from_domain else [])
    assert endpoint.values("set_var") == [
        f"TENANT={trunk.tenant_id}",
        f"VOCALS_TRUNK_ID={trunk.id}",
    ]
    if trunk.password is not None:
        auth = sections["auth"]
        assert auth.option_names() == ["type", "auth_type", "username", "password"]
        assert auth.values("username") == [trunk.username]
        assert auth.values("password") == [trunk.password]
    assert sections["aor"].option_names() == ["type", "contact", "qualify_frequency"]
    identify = sections["identify"]
    assert identify.values("match") == _expected_sources(trunk)
    assert all("," not in match for match in identify.values("match"))
    if trunk.kind == "registration":
        registration = sections["registration"]
        assert registration.values("endpoint") == [names.endpoint]
        (client_uri,) = registration.values("client_uri")
        assert client_uri.startswith(f"sip:{trunk.username}@")


def _check_dialplan(trunk: Trunk, text: str) -> None:
    parsed = parse_config(text)
    assert parsed.directives == [] and parsed.problems == []
    assert parsed.comments == 1
    assert [s.name for s in parsed.sections] == ["vocals-inbound-routes"]
    dids = sorted(route.did for route in trunk.inbound_routes)
    expected = []
    seen: set[str] = set()
    for did in dids:
        for dialled in dialled_forms(did):  # +1555…, 1555…, 001555…: each form once
            if dialled not in seen:
                seen.add(dialled)
                expected.append(("exten", "=>", f"{dialled},1,Stasis(vocals,inbound,{did})"))
                expected.append(("same", "=>", "n,Hangup()"))
    assert parsed.sections[0].entries == expected


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trunks(hostile=True))
def test_crafted_values_are_refused_or_render_exactly(trunk: Trunk) -> None:
    errors = validate_trunk(trunk)
    event("refused" if errors else "rendered")
    if errors:
        with pytest.raises(InvalidTrunkError) as refused:
            render_all([trunk])
        assert set(refused.value.errors) == {
            type(e)(f"trunks[0].{e.field}", e.reason) for e in errors
        }
        return
    files = render_all([trunk])
    _check_pjsip(trunk, files[PJSIP_FILENAME])
    _check_dialplan(trunk, files[DIALPLAN_FILENAME])


@settings(max_examples=300, deadline=None)
@given(trunks(hostile=False))
def test_whitelisted_values_always_render_and_round_trip(trunk: Trunk) -> None:
    assert validate_trunk(trunk) == []
    files = render_all([trunk])
    _check_pjsip(trunk, files[PJSIP_FILENAME])
    _check_dialplan(trunk, files[DIALPLAN_FILENAME])
