"""Media Streams messages from Twilio (PROTOCOLS.md §7.2), decoded with msgspec.

Unknown keys are ignored (Twilio adds fields); unknown `event` values are told apart from
malformed messages through `Envelope`, so a new event type is skipped rather than fatal.
"""

from __future__ import annotations

import msgspec


class Envelope(msgspec.Struct):
    event: str


class MediaFormat(msgspec.Struct):
    encoding: str
    sampleRate: int
    channels: int = 1


class StartInfo(msgspec.Struct):
    streamSid: str
    callSid: str
    mediaFormat: MediaFormat
    accountSid: str = ""
    tracks: list[str] = msgspec.field(default_factory=list)
    customParameters: dict[str, str] = msgspec.field(default_factory=dict)


class Connected(msgspec.Struct, tag_field="event", tag="connected"):
    protocol: str = ""
    version: str = ""


class Start(msgspec.Struct, tag_field="event", tag="start"):
    start: StartInfo
    streamSid: str = ""
    sequenceNumber: str = ""


class MediaBody(msgspec.Struct):
    payload: str
    track: str = "inbound"
    chunk: str = ""
    timestamp: str = ""


class Media(msgspec.Struct, tag_field="event", tag="media"):
    media: MediaBody
    streamSid: str = ""
    sequenceNumber: str = ""


class DtmfBody(msgspec.Struct):
    digit: str
    track: str = ""


class DtmfEvent(msgspec.Struct, tag_field="event", tag="dtmf"):
    dtmf: DtmfBody
    streamSid: str = ""
    sequenceNumber: str = ""


class MarkBody(msgspec.Struct):
    name: str


class MarkEvent(msgspec.Struct, tag_field="event", tag="mark"):
    mark: MarkBody
    streamSid: str = ""
    sequenceNumber: str = ""


class Stop(msgspec.Struct, tag_field="event", tag="stop"):
    streamSid: str = ""
    sequenceNumber: str = ""


TwilioMessage = Connected | Start | Media | DtmfEvent | MarkEvent | Stop
KNOWN_EVENTS = frozenset({"connected", "start", "media", "dtmf", "mark", "stop"})
