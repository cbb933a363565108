"""Trunk data as provisioning needs it: what the config API stores, nothing rendered yet."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final, Literal

import msgspec

TrunkKind = Literal["registration", "ip"]
Transport = Literal["udp", "tcp", "tls"]
DtmfMode = Literal["rfc4733", "inband", "info", "auto"]
Codec = Literal["ulaw", "alaw", "g722", "opus"]
MASKED_SECRET: Final = "****"


class InboundRoute(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One dialled number arriving on a trunk, answered by one agent."""

    did: str
    agent_id: str


class Trunk(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A SIP trunk row as the config API hands it to provisioning.

    `port=None` leaves the port out of every URI, so Asterisk may use DNS SRV.
    `identify_match` adds source addresses (IP, CIDR or hostname) that identify inbound
    INVITEs from the provider; the trunk host is always matched.
    `max_cps` and `max_calls` pace the outbound dispatcher; they are not rendered.
    """

    id: str
    tenant_id: str
    name: str
    kind: TrunkKind
    host: str
    port: int | None = None
    transport: Transport = "udp"
    username: str | None = None
    password: str | None = None
    from_user: str | None = None
    from_domain: str | None = None
    codecs: tuple[Codec, ...] = ("ulaw", "alaw")
    dtmf_mode: DtmfMode = "rfc4733"
    max_cps: float = 1.0
    max_calls: int | None = None
    inbound_routes: tuple[InboundRoute, ...] = ()
    identify_match: tuple[str, ...] = ()

    def _shown_fields(self) -> Iterator[tuple[str, object]]:
        for name in self.__struct_fields__:
            value = getattr(self, name)
            yield name, (MASKED_SECRET if name == "password" and value is not None else value)

    # msgspec's default repr and rich repr would print the password wherever a trunk is
    # logged, shown in a traceback or in a failing test.
    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in self._shown_fields())
        return f"Trunk({fields})"

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        return list(self._shown_fields())


class TrunkConfig(msgspec.Struct, frozen=True):
    """Everything rendered for one Asterisk server: its trunks, and inbound routes that are
    not tied to a trunk (every trunk delivers into the same inbound context)."""

    trunks: tuple[Trunk, ...] = ()
    routes: tuple[InboundRoute, ...] = ()
