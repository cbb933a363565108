"""Typed ARI events decoded as a msgspec tagged union on `type`.

Events Vocals does not model decode to `UnknownEvent` instead of failing, so a newer
Asterisk (or `subscribeAll`) never breaks the event loop.
"""

from __future__ import annotations

import typing

import msgspec

from ari_app.models import Bridge, Channel, Playback


class _Event(msgspec.Struct, kw_only=True, tag_field="type"):
    timestamp: str = ""
    application: str = ""
    asterisk_id: str = ""


class StasisStart(_Event, kw_only=True, tag="StasisStart"):
    args: list[str] = msgspec.field(default_factory=list)
    channel: Channel
    replace_channel: Channel | None = None


class StasisEnd(_Event, kw_only=True, tag="StasisEnd"):
    channel: Channel


class ChannelCreated(_Event, kw_only=True, tag="ChannelCreated"):
    channel: Channel


class ChannelStateChange(_Event, kw_only=True, tag="ChannelStateChange"):
    channel: Channel


class ChannelDialplan(_Event, kw_only=True, tag="ChannelDialplan"):
    channel: Channel
    dialplan_app: str = ""
    dialplan_app_data: str = ""


class ChannelDtmfReceived(_Event, kw_only=True, tag="ChannelDtmfReceived"):
    channel: Channel
    digit: str
    duration_ms: int = 0


class ChannelHangupRequest(_Event, kw_only=True, tag="ChannelHangupRequest"):
    channel: Channel
    cause: int | None = None
    tech_cause: int | None = None
    soft: bool | None = None


class ChannelDestroyed(_Event, kw_only=True, tag="ChannelDestroyed"):
    channel: Channel
    cause: int
    cause_txt: str = ""
    tech_cause: int | None = None


class ChannelVarset(_Event, kw_only=True, tag="ChannelVarset"):
    variable: str
    value: str
    channel: Channel | None = None


class ChannelEnteredBridge(_Event, kw_only=True, tag="ChannelEnteredBridge"):
    bridge: Bridge
    channel: Channel | None = None


class ChannelLeftBridge(_Event, kw_only=True, tag="ChannelLeftBridge"):
    bridge: Bridge
    channel: Channel


class Dial(_Event, kw_only=True, tag="Dial"):
    peer: Channel
    dialstatus: str
    caller: Channel | None = None
    forward: str = ""
    forwarded: Channel | None = None
    dialstring: str = ""


class BridgeCreated(_Event, kw_only=True, tag="BridgeCreated"):
    bridge: Bridge


class BridgeDestroyed(_Event, kw_only=True, tag="BridgeDestroyed"):
    bridge: Bridge


class PlaybackStarted(_Event, kw_only=True, tag="PlaybackStarted"):
    playback: Playback


class PlaybackFinished(_Event, kw_only=True, tag="PlaybackFinished"):
    playback: Playback


class ApplicationReplaced(_Event, kw_only=True, tag="ApplicationReplaced"):
    pass


class ApplicationRegistered(_Event, kw_only=True, tag="ApplicationRegistered"):
    pass


class UnknownEvent(msgspec.Struct, kw_only=True):
    """Any event type not modelled above (kept for logging)."""

    type: str
    timestamp: str = ""
    application: str = ""


AriEvent = (
    StasisStart
    | StasisEnd
    | ChannelCreated
    | ChannelStateChange
    | ChannelDialplan
    | ChannelDtmfReceived
    | ChannelHangupRequest
    | ChannelDestroyed
    | ChannelVarset
    | ChannelEnteredBridge
    | ChannelLeftBridge
    | Dial
    | BridgeCreated
    | BridgeDestroyed
    | PlaybackStarted
    | PlaybackFinished
    | ApplicationReplaced
    | ApplicationRegistered
)
KNOWN_EVENT_TYPES: frozenset[str] = frozenset(
    str(t.__struct_config__.tag) for t in typing.get_args(AriEvent)
)

_decoder: msgspec.json.Decoder[AriEvent] = msgspec.json.Decoder(AriEvent)
_envelope = msgspec.json.Decoder(UnknownEvent)


class BadEvent(ValueError):
    """A frame that is not an ARI event (not JSON, no `type`, or a known type malformed)."""


def decode_event(raw: bytes | str) -> AriEvent | UnknownEvent:
    """Decode one events-WebSocket frame; unknown types become `UnknownEvent`."""
    try:
        envelope = _envelope.decode(raw)
    except msgspec.DecodeError as exc:
        raise BadEvent(f"not an ARI event: {exc}") from exc
    if envelope.type not in KNOWN_EVENT_TYPES:
        return envelope
    try:
        return _decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise BadEvent(f"malformed {envelope.type}: {exc}") from exc
