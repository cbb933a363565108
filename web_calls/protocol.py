"""The browser call's wire protocol over one WebSocket.

Binary messages are audio, 16-bit little-endian PCM at 16 kHz, mono, both ways. Text messages
are JSON with a `type`:

* browser -> server: `start` (the token, first and once), `mark` (playback reached the named
  point, or the audio before it was cleared), `hangup`;
* server -> browser: `started` (the call id), `mark` (echo it once the audio before it has
  played), `clear` (drop all queued audio now: the caller barged in), `transcript`, `turn`
  (a turn's latencies), `ended` (the call is over: its id and why).
"""

from __future__ import annotations

from typing import Final

import msgspec

from media.formats import SLIN_16K

WIRE_FORMAT: Final = SLIN_16K
# A browser sends 20-100 ms chunks; a second of audio in one message is already not one.
MAX_AUDIO_BYTES: Final = WIRE_FORMAT.sample_rate * WIRE_FORMAT.bytes_per_sample
# Control messages are a few dozen bytes; a token is 43 characters.
MAX_TEXT_CHARS: Final = 1024
# A browser call this long is a forgotten tab, whatever the agent's own limit says (the
# default of the VOCALS_WEB_CALL_MAX_S setting).
MAX_CALL_S: Final = 2 * 3600.0
# WebSocket close code (RFC 6455) for a message over the limits above; the leg's own codes
# (normal, policy, error) are in `media.lead_paced_leg`.
CLOSE_TOO_BIG: Final = 1009


class StartMessage(msgspec.Struct, tag_field="type", tag="start", forbid_unknown_fields=True):
    token: str


class MarkMessage(msgspec.Struct, tag_field="type", tag="mark", forbid_unknown_fields=True):
    name: str


class HangupMessage(msgspec.Struct, tag_field="type", tag="hangup", forbid_unknown_fields=True):
    pass


BrowserMessage = StartMessage | MarkMessage | HangupMessage


class BadMessage(Exception):
    """The browser sent something this protocol does not allow."""


class TooBig(BadMessage):
    """A message over the protocol's size limits."""


_decoder = msgspec.json.Decoder(BrowserMessage)


def decode_text(text: str) -> BrowserMessage:
    if len(text) > MAX_TEXT_CHARS:
        raise TooBig(f"text message of {len(text)} characters")
    try:
        message: BrowserMessage = _decoder.decode(text)
        return message
    except msgspec.DecodeError as exc:
        raise BadMessage(f"malformed message: {exc}") from exc


def check_audio(data: bytes) -> bytes:
    if len(data) > MAX_AUDIO_BYTES:
        raise TooBig(f"audio message of {len(data)} bytes (at most {MAX_AUDIO_BYTES})")
    if len(data) % WIRE_FORMAT.bytes_per_sample:
        raise BadMessage("audio message of an odd number of bytes (16-bit samples)")
    return data


_encoder = msgspec.json.Encoder()


def server_message(type_: str, **fields: object) -> str:
    """A JSON text message of ours."""
    return _encoder.encode({"type": type_, **fields}).decode()
