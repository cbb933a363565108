"""Replay the real Asterisk 22.10.1 captures: every event decodes into our models, and the
fake's REST answers and event sequences have the captured shapes."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import msgspec
import pytest

from ari_app.client import AriClient
from ari_app.events import (
    ChannelDestroyed,
    ChannelVarset,
    StasisStart,
    UnknownEvent,
    decode_event,
)
from ari_app.models import Bridge, Channel, Endpoint
from tests.ari.conftest import Recorder
from tests.fakes.asterisk import Callee, FakeAsterisk

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "asterisk-22.10.1"
ALL_EVENT_FILES = sorted(FIXTURES.glob("**/*_events.jsonl"))
# Types whose order the scenarios below compare (varsets and dialplan steps are noise).
CORE = {
    "StasisStart",
    "StasisEnd",
    "ChannelStateChange",
    "ChannelHangupRequest",
    "ChannelDestroyed",
    "Dial",
    "ChannelEnteredBridge",
    "ChannelLeftBridge",
    "BridgeDestroyed",
    "ChannelDtmfReceived",
}


def captured(name: str) -> list[dict[str, Any]]:
    lines = (FIXTURES / f"{name}_events.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if "_marker" not in e]


def rest(name: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads((FIXTURES / f"{name}_rest.json").read_text())
    return data


def sent_shape(fake: FakeAsterisk) -> list[tuple[str, frozenset[str]]]:
    return [(e["type"], frozenset(e)) for e in fake.events_sent if e["type"] in CORE]


def captured_shape(name: str) -> list[tuple[str, frozenset[str]]]:
    return [(e["type"], frozenset(e)) for e in captured(name) if e["type"] in CORE]


@pytest.mark.parametrize("path", ALL_EVENT_FILES, ids=lambda p: p.name)
def test_every_captured_event_decodes(path: Path) -> None:
    for line in path.read_text().splitlines():
        raw = json.loads(line)
        if "_marker" in raw:
            continue
        event = decode_event(line)
        assert not isinstance(event, UnknownEvent), raw["type"]
        assert type(event).__name__ == raw["type"]


def test_unknown_event_type_is_tolerated() -> None:
    event = decode_event(b'{"type":"ChannelToneDetected","timestamp":"x","application":"vocals"}')
    assert isinstance(event, UnknownEvent) and event.type == "ChannelToneDetected"


def test_captured_rest_answers_decode() -> None:
    for entry in rest("audiosocket") + rest("rtp") + rest("more/reload_broken_pjsip"):
        body = entry["response"]
        if entry["status"] != 200 or body is None:
            continue
        path = entry["path"]
        if path.startswith("/channels") and "variable" not in path:
            msgspec.convert(body, Channel)
        elif path.startswith("/bridges"):
            msgspec.convert(body, Bridge)
        elif path.startswith("/endpoints"):
            msgspec.convert(body, list[Endpoint])


async def _audiosocket_server() -> tuple[asyncio.Server, asyncio.Queue[asyncio.StreamReader]]:
    readers: asyncio.Queue[asyncio.StreamReader] = asyncio.Queue()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await readers.put(reader)
        await reader.read(0)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    return server, readers


async def test_external_media_audiosocket_matches_capture(
    fake: FakeAsterisk, ari: AriClient, events: Recorder
) -> None:
    server, readers = await _audiosocket_server()
    port = server.sockets[0].getsockname()[1]
    call_uuid = uuid.uuid4()
    ch = await ari.external_media(
        external_host=f"127.0.0.1:{port}", format="slin", data=str(call_uuid)
    )
    # Asterisk connected during the request; the answer shows the channel still Down.
    assert readers.qsize() == 1
    assert ch.state == "Down"
    assert ch.channelvars == {
        "AUDIOSOCKET_SERVICE": f"127.0.0.1:{port}",
        "AUDIOSOCKET_UUID": str(call_uuid),
    }
    capture = json.loads((FIXTURES / "externalMedia_audiosocket_slin_response.json").read_text())
    assert set(msgspec.to_builtins(ch)) >= set(capture["response"]) - {"protocol_id"}
    reader = await readers.get()
    assert await reader.readexactly(19) == b"\x01\x00\x10" + call_uuid.bytes
    await events.wait_for("StasisStart")
    start = events.events[-1]
    assert isinstance(start, StasisStart)
    assert start.args == [str(call_uuid)] and start.channel.state == "Up"
    await ari.hangup(ch.id)
    assert await reader.read() == b""  # closed, no 0x00 frame
    server.close()


async def test_inbound_then_caller_bye_matches_capture(
    fake: FakeAsterisk, ari: AriClient, events: Recorder
) -> None:
    caller = await fake.inbound_call("15551234567")
    await events.wait_for("StasisStart")
    start = events.events[0]
    assert isinstance(start, StasisStart)
    assert start.args == ["inbound", "15551234567"] and start.channel.state == "Ring"
    await ari.answer(start.channel.id)
    await caller.hangup()
    await events.wait_for("StasisEnd")
    assert sent_shape(fake) == captured_shape("more/inbound_sip")


async def test_client_closing_audiosocket_matches_capture(
    fake: FakeAsterisk, ari: AriClient, events: Recorder
) -> None:
    server, readers = await _audiosocket_server()
    port = server.sockets[0].getsockname()[1]
    caller = await fake.inbound_call("100")
    await events.wait_for("StasisStart")
    bridge = await ari.create_bridge()
    ext = await ari.external_media(
        external_host=f"127.0.0.1:{port}", format="slin", data=str(uuid.uuid4())
    )
    await events.wait_for("StasisStart", 2)
    await ari.add_channels(bridge.id, [caller.channel_id, ext.id])
    reader = await readers.get()
    await reader.readexactly(19)
    await events.wait_for("ChannelEnteredBridge", 2)
    before = len(events.events)
    reader._transport.close()  # type: ignore[attr-defined]
    await events.wait_for("ChannelDestroyed")
    tail = [type(e).__name__ for e in events.events[before:]]
    assert tail == ["ChannelLeftBridge", "StasisEnd", "ChannelDestroyed"]
    destroyed = events.events[-1]
    assert isinstance(destroyed, ChannelDestroyed) and destroyed.cause == 16
    assert caller.channel_id in (await ari.get_bridge(bridge.id)).channels
    server.close()


@pytest.mark.parametrize(
    ("scenario", "callee"),
    [
        ("more/outbound_sip_busy", Callee(outcome="busy")),
        ("more/outbound_sip_noanswer_timeout5", Callee(outcome="no-answer")),
        ("more/outbound_sip_unreachable", Callee(outcome="unreachable")),
    ],
)
async def test_unanswered_outbound_matches_capture(
    fake: FakeAsterisk, ari: AriClient, events: Recorder, scenario: str, callee: Callee
) -> None:
    fake.callees["1000"] = callee
    ch = await ari.originate("PJSIP/1000@trunk1", app="vocals", app_args=["outbound"], timeout_s=5)
    await events.wait_for("ChannelDestroyed")
    assert sent_shape(fake) == captured_shape(scenario)
    want = next(e for e in captured(scenario) if e["type"] == "ChannelDestroyed")
    got = events.events[-1]
    assert isinstance(got, ChannelDestroyed) and got.channel.id == ch.id
    assert (got.cause, got.cause_txt, got.tech_cause) == (
        want["cause"],
        want["cause_txt"],
        want["tech_cause"],
    )


async def test_amd_originate_subscribed_matches_capture(
    fake: FakeAsterisk, ari: AriClient, events: Recorder
) -> None:
    ch = await ari.originate(
        "PJSIP/1000@trunk1",
        context="vocals-outbound",
        extension="s",
        priority=1,
        variables={"VOCALS_APP": "vocals", "VOCALS_CALL_ID": "call-human-2"},
    )
    await ari.subscribe(f"channel:{ch.id}")
    await events.wait_for("StasisStart")
    start = next(e for e in events.events if isinstance(e, StasisStart))
    assert start.args == ["outbound", "call-human-2", "HUMAN", "HUMAN-803-800"]
    varsets = [(e.variable, e.value) for e in events.events if isinstance(e, ChannelVarset)]
    assert varsets == [("AMDSTATUS", "HUMAN"), ("AMDCAUSE", "HUMAN-803-800")]
    await ari.hangup(ch.id)
    await events.wait_for("ChannelDestroyed")
    # Same PJSIP progress as the captured answered call; AMD adds only the two varsets
    # (the AMD capture dialled a Local channel, which adds a second HangupRequest).
    assert sent_shape(fake) == captured_shape("more/outbound_sip_answer")


async def test_originate_unknown_endpoint_is_500(ari: AriClient) -> None:
    from ari_app.errors import ServerError

    with pytest.raises(ServerError) as err:
        await ari.originate("PJSIP/1000@nosuchendpoint", app="vocals")
    assert err.value.message == "Allocation failed"
