"""ARI wire models (msgspec) for the resources and events Vocals uses.

Field names follow the ARI declarations in `specs/ari/` and the Asterisk 22.10.1 captures;
unknown fields are ignored so newer Asterisk versions decode unchanged.
"""

from __future__ import annotations

from typing import Any

import msgspec


class CallerId(msgspec.Struct, kw_only=True):
    name: str = ""
    number: str = ""


class DialplanCep(msgspec.Struct, kw_only=True):
    context: str = ""
    exten: str = ""
    priority: int = 0
    app_name: str = ""
    app_data: str = ""


class Channel(msgspec.Struct, kw_only=True):
    id: str
    name: str
    state: str
    protocol_id: str = ""
    caller: CallerId = msgspec.field(default_factory=CallerId)
    connected: CallerId = msgspec.field(default_factory=CallerId)
    accountcode: str = ""
    dialplan: DialplanCep | None = None
    creationtime: str = ""
    language: str = ""
    channelvars: dict[str, str] | None = None
    caller_rdnis: str | None = None
    tenantid: str | None = None

    @property
    def dialplan_exten(self) -> str:
        return "" if self.dialplan is None else self.dialplan.exten

    def var(self, name: str) -> str | None:
        """A variable carried in `channelvars` (ari.conf channelvars or externalMedia)."""
        return None if self.channelvars is None else self.channelvars.get(name)


class Bridge(msgspec.Struct, kw_only=True):
    id: str
    technology: str = ""
    bridge_type: str = ""
    bridge_class: str = ""
    creator: str = ""
    name: str = ""
    channels: list[str] = msgspec.field(default_factory=list)
    creationtime: str = ""
    video_mode: str | None = None
    video_source_id: str | None = None


class Endpoint(msgspec.Struct, kw_only=True):
    technology: str
    resource: str
    state: str | None = None
    channel_ids: list[str] = msgspec.field(default_factory=list)


class Module(msgspec.Struct, kw_only=True):
    name: str
    description: str = ""
    use_count: int = 0
    status: str = ""
    support_level: str = ""


class SystemInfo(msgspec.Struct, kw_only=True):
    version: str
    entity_id: str = ""


class AsteriskInfo(msgspec.Struct, kw_only=True):
    system: SystemInfo | None = None
    build: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    status: dict[str, Any] | None = None


class AsteriskPing(msgspec.Struct, kw_only=True):
    asterisk_id: str
    ping: str
    timestamp: str


class Variable(msgspec.Struct, kw_only=True):
    value: str


class Playback(msgspec.Struct, kw_only=True):
    id: str
    media_uri: str
    target_uri: str
    state: str
    language: str = ""
    next_media_uri: str | None = None


class Application(msgspec.Struct, kw_only=True):
    name: str
    channel_ids: list[str] = msgspec.field(default_factory=list)
    bridge_ids: list[str] = msgspec.field(default_factory=list)
    endpoint_ids: list[str] = msgspec.field(default_factory=list)
    device_names: list[str] = msgspec.field(default_factory=list)
    events_allowed: list[dict[str, Any]] = msgspec.field(default_factory=list)
    events_disallowed: list[dict[str, Any]] = msgspec.field(default_factory=list)


class ErrorBody(msgspec.Struct):
    message: str = ""
