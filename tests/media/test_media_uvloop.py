"""Both transports on uvloop, the production event loop (its transports are not asyncio's)."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest

from media.audiosocket import AudioSocketLeg, AudioSocketServer
from media.formats import SLIN_8K, ULAW_8K
from media.rtp import PT_PCMU, RtpLeg, RtpPortPool, parse_rtp
from tests.fakes.audiosocket_caller import AudioSocketCaller
from tests.fakes.rtp_caller import RtpCaller

HOST = "127.0.0.1"


async def _audiosocket_round_trip() -> None:
    legs: asyncio.Queue[AudioSocketLeg] = asyncio.Queue()

    async def on_leg(_: uuid.UUID, leg: AudioSocketLeg) -> None:
        await legs.put(leg)

    server = AudioSocketServer(HOST, 0, on_leg, health_port=None)
    await server.start()
    try:
        caller = await AudioSocketCaller.connect(HOST, server.port)
        caller.send_uuid(uuid.uuid4())
        caller.send_audio(b"\x01\x00" * 160)
        leg = await asyncio.wait_for(legs.get(), 3)
        assert leg.format == SLIN_8K
        assert await asyncio.wait_for(anext(leg.events()), 2) == b"\x01\x00" * 160
        await leg.send(b"\x02\x00" * 320)
        assert await caller.next_frame() == (0x10, b"\x02\x00" * 160)
        assert await caller.next_frame() == (0x10, b"\x02\x00" * 160)
        caller.close()
        await asyncio.wait_for(_closed(leg), 2)
        assert not leg.failed
    finally:
        await server.stop()


async def _closed(leg: AudioSocketLeg | RtpLeg) -> None:
    async for _ in leg.events():
        pass


async def _rtp_round_trip() -> None:
    pool = RtpPortPool(44000, 44100)
    leg = await RtpLeg.open(pool, ULAW_8K, host=HOST)
    caller = await RtpCaller.open((HOST, leg.local_port))
    leg.set_remote(*caller.address)  # what UNICASTRTP_LOCAL_ADDRESS/PORT report
    try:
        caller.send_audio(PT_PCMU, b"\x33" * 160, 160)
        assert await asyncio.wait_for(anext(leg.events()), 2) == b"\x33" * 160
        await leg.send(b"\x44" * 160)
        (packet,) = await caller.wait_packets(1)
        assert parse_rtp(packet).payload == b"\x44" * 160
    finally:
        await leg.hangup()
        caller.close()
    assert pool.in_use == 0


def test_transports_run_on_uvloop() -> None:
    uvloop = pytest.importorskip("uvloop")
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                runner.run(_audiosocket_round_trip())
                runner.run(_rtp_round_trip())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    assert not thread.is_alive()
    if errors:
        raise errors[0]
