"""The fake's external media bytes against the captures (AudioSocket frames, RTP packets),
and two Asterisk servers controlled at once."""

from __future__ import annotations

import asyncio
import json
import struct
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from ari_app.client import AriClient, AriSettings
from ari_app.events import StasisStart
from ari_app.listener import EventListener
from ari_app.models import Channel
from tests.ari.conftest import Recorder
from tests.fakes.asterisk import FakeAsterisk, ScriptedCaller, tone

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "asterisk-22.10.1"


class Sink(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.packets: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.packets.put_nowait((data, addr))


async def _bridged_media(
    fake: FakeAsterisk, ari: AriClient, events: Recorder, **media: Any
) -> tuple[ScriptedCaller, Channel]:
    caller = await fake.inbound_call("500")
    await events.wait_for("StasisStart")
    bridge = await ari.create_bridge()
    channel = await ari.external_media(**media)
    await events.wait_for("StasisStart", 2)
    await ari.add_channels(bridge.id, [caller.channel_id, channel.id])
    return caller, channel


async def test_rtp_packets_match_capture(
    fake: FakeAsterisk, ari: AriClient, events: Recorder
) -> None:
    loop = asyncio.get_running_loop()
    transport, sink = await loop.create_datagram_endpoint(Sink, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    caller, channel = await _bridged_media(
        fake,
        ari,
        events,
        external_host=f"127.0.0.1:{port}",
        format="ulaw",
        encapsulation="rtp",
        transport="udp",
    )
    captured = json.loads((FIXTURES / "rtp_notes.json").read_text())["packets"][:3]
    caller.play(tone(1000, 0.06))
    got = [await asyncio.wait_for(sink.packets.get(), 2) for _ in range(3)]
    local_port = int(channel.var("UNICASTRTP_LOCAL_PORT") or 0)
    for (data, addr), want in zip(got, captured, strict=True):
        first, pt = data[0], data[1]
        assert (first >> 6, first & 0x0F, pt >> 7, pt & 0x7F) == (
            want["v"],
            want["cc"],
            want["m"],
            want["pt"],
        )
        assert len(data) - 12 == want["payload_len"]
        assert addr == ("127.0.0.1", local_port)  # sent from UNICASTRTP_LOCAL_PORT
    seqs = [struct.unpack("!H", d[2:4])[0] for d, _ in got]
    stamps = [struct.unpack("!I", d[4:8])[0] for d, _ in got]
    assert stamps == [c["ts"] for c in captured]  # 160, 320, 480
    assert seqs == [(seqs[0] + i) & 0xFFFF for i in range(3)]
    # Audio sent back from the listening socket reaches the far end.
    transport.sendto(
        struct.pack("!BBHII", 0x80, 0, 1, 160, 7) + b"\xff" * 160, ("127.0.0.1", local_port)
    )
    await caller.wait_received(20, timeout_s=2)
    transport.close()


async def test_audiosocket_frames_match_capture(
    fake: FakeAsterisk, ari: AriClient, events: Recorder
) -> None:
    received: asyncio.Queue[asyncio.StreamReader] = asyncio.Queue()
    writers: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await received.put(reader)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    call_uuid = uuid.uuid4()
    caller, _ = await _bridged_media(
        fake, ari, events, external_host=f"127.0.0.1:{port}", format="slin", data=str(call_uuid)
    )
    reader = await received.get()
    assert await reader.readexactly(19) == b"\x01\x00\x10" + call_uuid.bytes
    caller.play(tone(1000, 0.04))
    for _ in range(2):
        head = await reader.readexactly(3)
        assert head == b"\x10\x01\x40"  # kind 0x10, 320 bytes, as captured
        await reader.readexactly(320)
    # slin sent back under 0x10 is heard by the far end.
    pcm = (np.ones(160, "<i2") * 3000).tobytes()
    writers[0].write(b"\x10\x01\x40" + pcm)
    await caller.wait_received(20, timeout_s=2)
    assert bytes(caller.received[:320]) == pcm
    server.close()


async def test_two_asterisk_servers_at_once() -> None:
    fakes = [FakeAsterisk(), FakeAsterisk()]
    for fake in fakes:
        await fake.start()
    recorders = [Recorder(), Recorder()]
    listeners = [
        EventListener(
            AriSettings(url=f.ari_url, username="vocals", password="vocals", app=f"vocals-{i}"), r
        )
        for i, (f, r) in enumerate(zip(fakes, recorders, strict=True))
    ]
    for listener in listeners:
        listener.start()
        await listener.wait_connected(5)
    await fakes[0].inbound_call("100", app="vocals-0")
    await fakes[1].inbound_call("200", app="vocals-1")
    for recorder in recorders:
        await recorder.wait_for("StasisStart")
    assert [[e.args for e in r.events if isinstance(e, StasisStart)] for r in recorders] == [
        [["inbound", "100"]],
        [["inbound", "200"]],
    ]
    for listener in listeners:
        await listener.stop()
    for fake in fakes:
        await fake.stop()
