"""AudioSocket server and leg over real TCP on 127.0.0.1, replaying Asterisk 22 captures."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from media.audiosocket import AudioSocketLeg, AudioSocketServer
from media.formats import ALAW_8K, SLIN_8K, SLIN_16K, ULAW_8K, AudioFormat, Codec
from media.g711 import alaw_encode, ulaw_decode, ulaw_encode
from media.leg import Dtmf, MarkReached, MediaLegClosed
from tests.fakes.audiosocket_caller import (
    AudioSocketCaller,
    capture,
    frame,
    split_frames,
    uuid_frame,
)

HOST = "127.0.0.1"


class Harness:
    """A running server and the legs it has handed out, by UUID."""

    def __init__(self, server: AudioSocketServer) -> None:
        self.server = server
        self.legs: dict[uuid.UUID, AudioSocketLeg] = {}
        self.arrived: asyncio.Queue[AudioSocketLeg] = asyncio.Queue()

    async def on_leg(self, call_id: uuid.UUID, leg: AudioSocketLeg) -> None:
        self.legs[call_id] = leg
        await self.arrived.put(leg)

    async def next_leg(self, within_s: float = 3.0) -> AudioSocketLeg:
        return await asyncio.wait_for(self.arrived.get(), within_s)

    async def caller(self) -> AudioSocketCaller:
        return await AudioSocketCaller.connect(HOST, self.server.port)


async def _start(**kw: object) -> Harness:
    holder: list[Harness] = []

    async def on_leg(call_id: uuid.UUID, leg: AudioSocketLeg) -> None:
        await holder[0].on_leg(call_id, leg)

    server = AudioSocketServer(HOST, 0, on_leg, health_port=0, **kw)  # type: ignore[arg-type]
    holder.append(Harness(server))
    await server.start()
    return holder[0]


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    h = await _start(format_timeout_s=0.3, read_timeout_s=5.0)
    yield h
    await h.server.stop()


async def _collect_audio(caller: AudioSocketCaller, n: int) -> list[tuple[int, bytes]]:
    out: list[tuple[int, bytes]] = []
    while len(out) < n:
        got = await caller.next_frame()
        assert got is not None, "server closed early"
        out.append(got)
    return out


def _tone(rate: int, ms: int, hz: float = 440.0) -> bytes:
    t = np.arange(rate * ms // 1000) / rate
    return (8000 * np.sin(2 * np.pi * hz * t)).astype("<i2").tobytes()


# -- happy paths --------------------------------------------------------------------------


async def test_replays_the_slin_capture_and_paces_audio_back(harness: Harness) -> None:
    raw = capture("audiosocket_first_frames.hex")
    frames, tail = split_frames(raw)
    caller = await harness.caller()
    caller.send(raw[: len(raw) - len(tail)])
    leg = await harness.next_leg()
    assert leg.uuid == uuid.UUID("270781f7-2b64-478f-8b98-46c3a78c379f")
    assert leg.format == SLIN_8K
    events = leg.events()
    assert [await anext(events) for _ in range(3)] == [p for _, p in frames[1:]]

    reply = _tone(8000, 200)
    await leg.send(reply)
    leg.mark("reply")
    got = await _collect_audio(caller, 10)
    assert all(kind == 0x10 for kind, _ in got)
    assert b"".join(p for _, p in got) == reply
    span = caller.audio_times[-1] - caller.audio_times[0]
    assert 0.12 <= span <= 0.5  # 9 intervals of 20 ms, generous for a loaded machine

    caller.close()  # ARI hangs up: Asterisk just closes the socket
    rest = [e async for e in events]
    assert all(not isinstance(e, bytes) for e in rest)
    assert leg.closed
    assert not leg.failed
    with pytest.raises(MediaLegClosed):
        await leg.send(reply)


async def test_clear_silences_the_socket_within_a_frame(harness: Harness) -> None:
    caller = await harness.caller()
    caller.send_uuid(uuid.uuid4())
    caller.send_audio(bytes(320))
    leg = await harness.next_leg()
    await leg.send(_tone(8000, 2000))
    leg.mark("utterance")
    await asyncio.sleep(0.15)
    leg.clear()
    cleared_at = time.monotonic()
    heard_at_clear = caller.audio_frames
    events = leg.events()
    assert await anext(events) == bytes(320)  # the caller's inbound frame
    assert await anext(events) == MarkReached("utterance")
    await asyncio.sleep(0.2)
    # At most the frame already on the wire when clear() ran; nothing after.
    assert caller.audio_frames - heard_at_clear <= 1
    assert caller.audio_times[-1] - cleared_at < 0.03
    assert leg.queued_ms == 0
    await leg.hangup()


async def test_replays_the_slin16_capture(harness: Harness) -> None:
    raw = capture("audiosocket_slin16_first_frames.hex")
    frames, tail = split_frames(raw)
    caller = await harness.caller()
    caller.send(raw[: len(raw) - len(tail)])
    leg = await harness.next_leg()
    assert leg.format == SLIN_16K
    assert await anext(leg.events()) == frames[1][1]
    await leg.send(_tone(16000, 40))
    got = await _collect_audio(caller, 2)
    assert [(k, len(p)) for k, p in got] == [(0x12, 640), (0x12, 640)]
    await leg.hangup()
    assert await caller.next_frame() == (0x00, b"")
    await caller.wait_closed()


@pytest.mark.parametrize(
    ("law", "fmt", "encode"),
    [(Codec.ULAW, ULAW_8K, ulaw_encode), (Codec.ALAW, ALAW_8K, alaw_encode)],
)
async def test_g711_leg_sends_slin_back_because_asterisk_reads_0x10_as_slin(
    law: Codec, fmt: AudioFormat, encode: object
) -> None:
    h = await _start(g711_law=law)
    try:
        caller = await h.caller()
        caller.send_uuid(uuid.uuid4())
        pcm = _tone(8000, 20)
        wire = encode(pcm)  # type: ignore[operator]
        caller.send_audio(wire)
        leg = await h.next_leg()
        assert leg.format == fmt
        assert await anext(leg.events()) == wire
        await leg.send(wire)
        kind, payload = (await _collect_audio(caller, 1))[0]
        assert (kind, len(payload)) == (0x10, 320)
        if law is Codec.ULAW:
            assert payload == ulaw_decode(wire)
        out = np.frombuffer(payload, "<i2").astype(int)
        assert np.max(np.abs(out - np.frombuffer(pcm, "<i2"))) < 300  # one G.711 step
        await leg.hangup()
    finally:
        await h.server.stop()


async def test_slin16_under_kind_0x10_goes_back_as_slin_8k(harness: Harness) -> None:
    caller = await harness.caller()
    caller.send_uuid(uuid.uuid4())
    caller.send_audio(bytes(640))  # older Asterisk: slin16 falls back to kind 0x10
    leg = await harness.next_leg()
    assert leg.format == SLIN_16K
    await leg.send(_tone(16000, 200, 500))
    await asyncio.sleep(0.35)
    got = [p for _, k, p in caller.received if k == 0x10]
    total = sum(len(p) for p in got)
    assert all(len(p) <= 320 for p in got)
    assert 2400 <= total <= 3200  # 200 ms at 8 kHz, less the resampler's start-up delay
    await leg.hangup()


async def test_newer_slin_kinds_set_the_rate(harness: Harness) -> None:
    caller = await harness.caller()
    caller.send_uuid(uuid.uuid4())
    caller.send_audio(bytes(960), kind=0x13)
    leg = await harness.next_leg()
    assert leg.format == AudioFormat(Codec.SLIN, 24000)
    await leg.send(bytes(960))
    assert (await _collect_audio(caller, 1))[0][0] == 0x13
    await leg.hangup()


async def test_inbound_frames_are_reframed_to_20_ms(harness: Harness) -> None:
    caller = await harness.caller()
    caller.send_uuid(uuid.uuid4())
    caller.send_audio(b"\x01\x00" * 160)
    leg = await harness.next_leg()
    caller.send_audio(b"\x02\x00" * 240)  # a 30 ms frame
    caller.send_audio(b"\x03\x00" * 80)  # and a 10 ms one
    events = leg.events()
    got = [await anext(events) for _ in range(3)]
    assert got == [b"\x01\x00" * 160, b"\x02\x00" * 160, b"\x02\x00" * 80 + b"\x03\x00" * 80]
    await leg.hangup()


async def test_dtmf_and_a_silent_far_side(harness: Harness) -> None:
    # As in the DTMF capture: the UUID, then only 0x03 frames, no audio at all.
    caller = await harness.caller()
    caller.send_uuid(uuid.uuid4())
    caller.send_dtmf("1")
    leg = await harness.next_leg()  # after format_timeout_s, on the default format
    assert leg.format == SLIN_8K
    for d in "23#":
        caller.send_dtmf(d)
    events = leg.events()
    assert [await anext(events) for _ in range(4)] == [Dtmf(d) for d in "123#"]
    await leg.send(bytes(320))
    assert (await _collect_audio(caller, 1))[0] == (0x10, bytes(320))
    # Audio that turns up later in another format is converted to the leg's format.
    for _ in range(4):  # the resampler holds back its first ~1.5 frames
        caller.send_audio(bytes(640), kind=0x12)
    converted = await asyncio.wait_for(anext(events), 2)
    assert isinstance(converted, bytes)
    assert len(converted) == 320
    assert np.max(np.abs(np.frombuffer(converted, "<i2"))) <= 2  # silence, give or take dither
    await leg.hangup()


async def test_peer_hangup_frame_closes_cleanly(harness: Harness) -> None:
    caller = await harness.caller()
    caller.send_uuid(uuid.uuid4())
    caller.send_audio(bytes(320))
    leg = await harness.next_leg()
    caller.send(frame(0x00))
    await caller.wait_closed()
    assert leg.closed
    assert not leg.failed
    assert leg.close_reason == "hangup frame from peer"


async def test_health_listener_reports_stats(harness: Harness) -> None:
    caller = await harness.caller()
    caller.send_uuid(uuid.uuid4())
    caller.send_audio(bytes(320))
    leg = await harness.next_leg()
    port = harness.server.health_port
    assert port is not None
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    response = await asyncio.wait_for(reader.read(), 2.0)
    writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    stats = json.loads(body)
    assert stats["listening"] is True
    assert stats["active_legs"] == 1
    assert stats["port"] == harness.server.port
    assert set(stats) == set(harness.server.stats())
    assert {"ticks", "late_ticks", "reanchors", "max_lag_ms"} <= set(stats["pacing"])
    await leg.hangup()


async def test_per_leg_pacing_works_too() -> None:
    h = await _start(shared_pacing=False)
    try:
        caller = await h.caller()
        caller.send_uuid(uuid.uuid4())
        caller.send_audio(bytes(320))
        leg = await h.next_leg()
        await leg.send(bytes(320 * 3))
        assert len(await _collect_audio(caller, 3)) == 3
        assert leg._ticker is not h.server.ticker
        assert leg._ticker.target_count == 1
        await leg.hangup()
        assert leg._ticker.target_count == 0
    finally:
        await h.server.stop()


# -- bad input: each closes only its own connection -----------------------------------------

GOOD_UUID = uuid.uuid4()
BAD_CASES: list[tuple[str, bytes, str]] = [
    ("unknown kind", frame(0x10, bytes(320)) + frame(0x42, b"x"), "unknown frame kind 0x42"),
    ("error kind", frame(0x10, bytes(320)) + frame(0xFF, b"\x01"), "error frame"),
    ("length beyond a frame", frame(0x10, bytes(320)) + frame(0x10, bytes(4000)), "bad length"),
    ("zero-length audio", frame(0x10, bytes(320)) + frame(0x10), "bad length 0"),
    ("odd slin length", frame(0x10, bytes(320)) + frame(0x10, bytes(321)), "odd length"),
    ("kind change", frame(0x10, bytes(320)) + frame(0x12, bytes(640)), "kind changed"),
    ("second uuid", frame(0x10, bytes(320)) + uuid_frame(GOOD_UUID), "second UUID"),
    ("dtmf bad digit", frame(0x10, bytes(320)) + frame(0x03, b"x"), "invalid digit"),
    ("dtmf long", frame(0x10, bytes(320)) + frame(0x03, b"12"), "DTMF frame with length 2"),
    ("hangup with payload", frame(0x10, bytes(320)) + frame(0x00, b"x"), "hangup frame with"),
]
PRE_UUID_CASES: list[tuple[str, bytes, str]] = [
    ("http request", b"GET / HTTP/1.1\r\n\r\n", "garbage before the UUID"),
    ("audio first", frame(0x10, bytes(320)), "garbage before the UUID"),
    ("short uuid", frame(0x01, bytes(8)), "UUID frame with length 8"),
    ("one stray byte", b"\x07", "garbage before the UUID"),
]


async def _assert_only_that_call_closes(
    h: Harness, bad: AudioSocketCaller, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    good = await h.caller()
    good.send_uuid(uuid.uuid4())
    good.send_audio(bytes(320))
    good_leg = await h.next_leg()
    await bad.wait_closed()
    assert any(reason in r.getMessage() for r in caplog.records), [
        r.getMessage() for r in caplog.records
    ]
    await good_leg.send(bytes(320 * 2))
    assert len(await _collect_audio(good, 2)) == 2
    assert not good_leg.closed
    await good_leg.hangup()


@pytest.mark.parametrize(("name", "payload", "reason"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
async def test_bad_frames_close_only_that_leg(
    harness: Harness, caplog: pytest.LogCaptureFixture, name: str, payload: bytes, reason: str
) -> None:
    caplog.set_level(logging.INFO, logger="media")
    failed_before = harness.server.legs_failed
    bad = await harness.caller()
    bad.send_uuid(uuid.uuid4())
    bad.send(payload)
    bad_leg = await harness.next_leg()
    await _assert_only_that_call_closes(harness, bad, reason, caplog)
    assert bad_leg.closed
    assert bad_leg.failed
    assert reason in (bad_leg.close_reason or "")
    assert harness.server.legs_failed == failed_before + 1


@pytest.mark.parametrize(
    ("name", "payload", "reason"), PRE_UUID_CASES, ids=[c[0] for c in PRE_UUID_CASES]
)
async def test_garbage_before_the_uuid_closes_the_connection(
    harness: Harness, caplog: pytest.LogCaptureFixture, name: str, payload: bytes, reason: str
) -> None:
    caplog.set_level(logging.INFO, logger="media")
    bad = await harness.caller()
    bad.send(payload)
    await _assert_only_that_call_closes(harness, bad, reason, caplog)
    assert harness.arrived.empty()


async def test_truncated_frame_at_eof_is_reported(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="media")
    raw = capture("audiosocket_first_frames.hex")  # ends 36 bytes into a fourth audio frame
    bad = await harness.caller()
    bad.send(raw)
    leg = await harness.next_leg()
    bad.close()
    async for _ in leg.events():
        pass
    assert leg.failed
    assert "truncated frame" in (leg.close_reason or "")


async def test_silent_peers_time_out(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="media")
    h = await _start(uuid_timeout_s=0.2, read_timeout_s=0.5, format_timeout_s=0.1)
    try:
        mute = await h.caller()  # connects and never speaks
        await mute.wait_closed(within_s=3)
        assert any("no UUID frame in time" in r.getMessage() for r in caplog.records)
        quiet = await h.caller()  # sends its UUID, then nothing
        quiet.send_uuid(uuid.uuid4())
        leg = await h.next_leg()
        await quiet.wait_closed(within_s=5)
        assert leg.failed
        assert "read timeout" in (leg.close_reason or "")
        assert h.server.stats()["legs_failed"] == 2
    finally:
        await h.server.stop()


async def test_a_quiet_asterisk_keeps_its_call_and_a_gone_one_is_probed() -> None:
    """Asterisk sends nothing while its caller is quiet: by default no read timeout ends the
    leg; TCP keepalive, which a live peer's kernel answers whatever its audio, finds a gone
    one."""
    h = await _start(format_timeout_s=0.0)
    try:
        caller = await h.caller()
        caller.send_uuid(uuid.uuid4())
        caller.send_audio(bytes(320))
        leg = await h.next_leg()
        assert h.server.read_timeout_s is None
        sock = leg._transport.get_extra_info("socket")
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        idle = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE)
        interval = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL)
        probes = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT)
        assert idle + interval * probes <= 30  # gone peers found within the old timeout
        await asyncio.sleep(1.0)  # quiet, not gone
        assert not leg.closed
        await leg.hangup()
    finally:
        await h.server.stop()


async def test_connections_beyond_the_cap_are_closed_and_calls_go_on() -> None:
    h = await _start(max_connections=2, format_timeout_s=0.0)
    try:
        first, second = await h.caller(), await h.caller()
        extra = await h.caller()
        await extra.wait_closed()
        assert h.server.stats()["refused_connections"] == 1
        legs = []
        for caller in (first, second):
            caller.send_uuid(uuid.uuid4())
            legs.append(await h.next_leg())
            assert not legs[-1].closed
        first.close()
        async with asyncio.timeout(3):
            async for _ in legs[0].events():
                pass  # until the server has seen the first call end
        later = await h.caller()
        later.send_uuid(uuid.uuid4())
        assert not (await h.next_leg()).closed
    finally:
        await h.server.stop()


async def test_a_peer_that_stops_reading_loses_frames_not_memory(harness: Harness) -> None:
    caller = await harness.caller()
    assert caller.transport is not None
    caller.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    caller.send_uuid(uuid.uuid4())
    caller.send_audio(bytes(320))
    leg = await harness.next_leg()
    # Small buffers so the stuck peer backs up within a second instead of megabytes later.
    leg._transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 2048)
    leg._transport.set_write_buffer_limits(high=2048)
    caller.transport.pause_reading()
    await leg.send(bytes(320 * 250))  # five seconds
    await asyncio.wait_for(_until(lambda: leg.frames_dropped > 0), 5)
    assert leg._transport.get_write_buffer_size() <= 2048 + 323
    await leg.hangup()


async def _until(cond: Callable[[], bool]) -> None:
    while not cond():  # noqa: ASYNC110 - polls counters that have no event to wait on
        await asyncio.sleep(0.05)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    after_uuid=st.booleans(),
    junk=st.lists(
        st.one_of(
            st.binary(max_size=400),
            st.builds(frame, st.integers(0, 255), st.binary(max_size=700)),
        ),
        max_size=6,
    ),
)
async def test_fuzzed_input_never_hurts_the_server(
    harness: Harness, after_uuid: bool, junk: list[bytes]
) -> None:
    caller = await harness.caller()
    if after_uuid:
        caller.send_uuid(uuid.uuid4())
    caller.send(b"".join(junk))
    await asyncio.sleep(0.01)
    caller.close()
    await caller.wait_closed()
    good = await harness.caller()
    good.send_uuid(GOOD_UUID)
    good.send_audio(bytes(320))
    leg = None
    while leg is None or leg.uuid != GOOD_UUID:
        leg = await harness.next_leg()
    await leg.send(bytes(320))
    assert (await _collect_audio(good, 1))[0] == (0x10, bytes(320))
    await leg.hangup()
    await asyncio.wait_for(_until(lambda: harness.server.stats()["connections"] == 0), 5)
