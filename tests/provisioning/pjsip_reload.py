"""Asterisk's PJSIP reload semantics, plugged into the shared fake Asterisk as a reload hook.

`FakeAsterisk.reload_hooks["res_pjsip.so"] = PjsipReload(config_dir)` makes
`PUT /ari/asterisk/modules/res_pjsip.so` read the generated file as Asterisk 22.10.1 does
(fixtures/asterisk-22.10.1/more/reload_broken_pjsip_*, PROTOCOLS.md §6.4): the reply is
204 whatever the file holds; an endpoint with an option Asterisk does not know (or a codec
it lacks) is refused and keeps its previous version if it had one; a file that fails to
parse loses all its objects; ARI's endpoint list keeps endpoints a reload removed. The live
configuration (what AMI's PJSIPShowEndpoint shows) is kept in step on an attached FakeAmi.
The file is read with the independent parser in asterisk_conf.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from provisioning.render import PJSIP_FILENAME
from tests.fakes.ami import FakeAmi, FakeEndpoint
from tests.fakes.asterisk import FakeAsterisk
from tests.provisioning.asterisk_conf import Section, parse_config

ENDPOINT_OPTIONS = frozenset(
    {
        "type",
        "transport",
        "context",
        "disallow",
        "allow",
        "aors",
        "outbound_auth",
        "from_user",
        "from_domain",
        "direct_media",
        "rtp_symmetric",
        "force_rport",
        "rewrite_contact",
        "dtmf_mode",
        "set_var",
    }
)
# Endpoint fields as Asterisk shows them when the file does not set them.
ENDPOINT_DEFAULTS = {
    "Transport": "",
    "Context": "default",
    "Aors": "",
    "OutboundAuth": "",
    "FromUser": "",
    "FromDomain": "",
    "DtmfMode": "rfc4733",
    "Allow": "(nothing)",
}


def _camel(key: str) -> str:
    return "".join(part.capitalize() for part in key.split("_"))


def _endpoint_fields(section: Section) -> dict[str, str]:
    fields = dict(ENDPOINT_DEFAULTS)
    for key, _, value in section.entries:
        if key == "allow":  # shown as Asterisk formats a codec list: "(ulaw|alaw)"
            fields["Allow"] = "(" + value.replace(",", "|") + ")"
        elif key not in ("type", "disallow"):
            fields[_camel(key)] = value
    return fields


@dataclass
class PjsipReload:
    config_dir: Path
    endpoint_options: frozenset[str] = ENDPOINT_OPTIONS
    missing_codecs: frozenset[str] = frozenset()
    ami: FakeAmi | None = None
    configured: dict[str, dict[str, str]] = field(default_factory=dict)  # live endpoints

    def _accepts(self, section: Section) -> bool:
        if not set(section.option_names()) <= self.endpoint_options:
            return False
        codecs = {c for value in section.values("allow") for c in value.split(",")}
        return not codecs & self.missing_codecs

    def __call__(self, fake: FakeAsterisk) -> None:
        path = self.config_dir / PJSIP_FILENAME
        parsed = parse_config(path.read_text()) if path.exists() else None
        configured: dict[str, dict[str, str]] = {}
        auths: dict[str, tuple[str, str, str]] = {}
        if parsed is not None and not parsed.problems:  # a parse error drops the file's objects
            for section in parsed.sections:
                if section.values("type") == ["auth"]:
                    user, secret = section.values("username"), section.values("password")
                    auths[section.name] = (section.name, user[0], secret[0])
            for section in parsed.sections:
                if section.values("type") != ["endpoint"]:
                    continue
                if self._accepts(section):
                    configured[section.name] = _endpoint_fields(section)
                elif section.name in self.configured:  # refused: the previous version stays
                    configured[section.name] = self.configured[section.name]
        self.configured = configured
        for name in configured:  # ARI's list keeps endpoints a reload removed
            fake.endpoints.setdefault(name, "offline")
        if self.ami is not None:
            self.ami.endpoints = {
                name: FakeEndpoint(dict(fields), auths.get(fields["OutboundAuth"]))
                for name, fields in configured.items()
            }
