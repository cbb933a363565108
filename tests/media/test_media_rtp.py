"""RTP parsing, reordering, the port pool and RtpLeg over real UDP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections.abc import AsyncIterator, Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from media.formats import SLIN_16K, ULAW_8K
from media.leg import MediaLegClosed
from media.rtp import (
    LATCH_PACKETS,
    PT_PCMU,
    PT_SLIN16,
    ReorderBuffer,
    RtpError,
    RtpLeg,
    RtpPortPool,
    build_rtp,
    parse_rtp,
)
from tests.fakes.rtp_caller import RtpCaller, captured_packets, rtp_packet

HOST = "127.0.0.1"


# -- packets ------------------------------------------------------------------------------


def test_parses_the_captured_asterisk_headers() -> None:
    packets = [parse_rtp(p) for p in captured_packets("rtp_first_packets.hex")]
    assert [p.payload_type for p in packets] == [0] * 10
    assert [p.sequence for p in packets] == list(range(11882, 11892))
    assert [p.timestamp for p in packets] == [160 * (i + 1) for i in range(10)]
    assert {p.ssrc for p in packets} == {0x041E8854}
    assert {len(p.payload) for p in packets} == {160}
    assert not any(p.marker for p in packets)
    slin16 = [parse_rtp(p) for p in captured_packets("rtp_slin16_first_packets.hex")]
    assert {(p.payload_type, len(p.payload)) for p in slin16} == {(118, 640)}
    assert [p.timestamp for p in slin16[:3]] == [320, 640, 960]


def test_build_and_parse_round_trip() -> None:
    data = build_rtp(8, True, 65535, 2**32 - 1, 0xDEADBEEF, b"abc")
    assert data[:2] == b"\x80\x88"
    p = parse_rtp(data)
    assert (p.payload_type, p.marker, p.sequence, p.timestamp, p.ssrc, p.payload) == (
        8,
        True,
        65535,
        2**32 - 1,
        0xDEADBEEF,
        b"abc",
    )


def test_skips_csrcs_extension_and_padding() -> None:
    header = struct.pack("!BBHII", 0x80 | 0x20 | 0x10 | 2, 0, 1, 2, 3)
    csrcs = b"\x00" * 8
    extension = b"\xbe\xde\x00\x01" + b"\x00" * 4
    data = header + csrcs + extension + b"PAYLOAD" + b"\x00\x00\x03"
    assert parse_rtp(data).payload == b"PAYLOAD"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x80\x00\x00", "shorter than an RTP header"),
        (struct.pack("!BBHII", 0x40, 0, 1, 2, 3) + b"x", "version 1"),
        (struct.pack("!BBHII", 0x8F, 0, 1, 2, 3), "CSRC list"),
        (struct.pack("!BBHII", 0x90, 0, 1, 2, 3) + b"\x00\x00\x00\x09", "runs past"),
        (struct.pack("!BBHII", 0xA0, 0, 1, 2, 3) + b"ab\x00", "padding count 0"),
        (struct.pack("!BBHII", 0xA0, 0, 1, 2, 3) + b"ab\x09", "padding count 9"),
    ],
)
def test_malformed_packets_are_rejected(data: bytes, reason: str) -> None:
    with pytest.raises(RtpError, match=reason):
        parse_rtp(data)


# -- reorder buffer -----------------------------------------------------------------------


def _feed(buf: ReorderBuffer, seqs: list[int]) -> list[int]:
    out: list[int] = []
    for s in seqs:
        out += [int(p) for p in buf.push(s, str(s).encode())]
    return out


def test_reorder_in_order_and_swapped() -> None:
    buf = ReorderBuffer()
    assert _feed(buf, [10, 11, 13, 12, 14]) == [10, 11, 12, 13, 14]
    assert buf.lost == 0


def test_reorder_waits_at_most_three_packets() -> None:
    buf = ReorderBuffer()
    assert _feed(buf, [1, 3, 4]) == [1]
    assert _feed(buf, [5]) == [3, 4, 5]  # 2 never came: given up after 60 ms of packets
    assert buf.lost == 1
    assert _feed(buf, [2]) == []
    assert buf.late == 1


def test_reorder_wraps_and_drops_duplicates() -> None:
    buf = ReorderBuffer()
    assert _feed(buf, [65534, 0, 0, 65535, 1, 1]) == [65534, 65535, 0, 1]
    assert buf.duplicates == 1  # the second 0, while it was held
    assert buf.late == 1  # the second 1, after it was released


def test_reorder_resyncs_on_a_big_jump() -> None:
    buf = ReorderBuffer()
    assert _feed(buf, [100, 102, 5000, 5001]) == [100, 102, 5000, 5001]


# -- port pool ----------------------------------------------------------------------------


def test_port_pool_hands_out_even_ports_and_takes_them_back() -> None:
    pool = RtpPortPool(40001, 40007)
    ports = {pool.acquire() for _ in range(3)}
    assert ports == {40002, 40004, 40006}
    assert pool.stats() == {"ports": 3, "in_use": 3, "foreign_packets": 0}
    with pytest.raises(RuntimeError, match="exhausted"):
        pool.acquire()
    pool.release(40004)
    assert pool.acquire() == 40004
    with pytest.raises(ValueError, match="range"):
        RtpPortPool(5000, 5000)


async def test_open_skips_a_port_taken_by_someone_else() -> None:
    blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blocker.bind((HOST, 0))
    taken = blocker.getsockname()[1]
    if taken & 1:
        blocker.close()
        blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        blocker.bind((HOST, taken + 1))
        taken += 1
    try:
        pool = RtpPortPool(taken, taken + 4)
        legs = [await RtpLeg.open(pool, ULAW_8K, host=HOST)]
        assert legs[0].local_port == taken + 2
        with pytest.raises(OSError, match="no free UDP port"):
            await RtpLeg.open(pool, ULAW_8K, host=HOST)
        await legs[0].hangup()
        assert pool.in_use == 0
    finally:
        blocker.close()


# -- legs over UDP ------------------------------------------------------------------------


@pytest.fixture
def pool() -> RtpPortPool:
    return RtpPortPool(42000, 43000)


@pytest.fixture
async def ulaw_pair(pool: RtpPortPool) -> AsyncIterator[tuple[RtpLeg, RtpCaller]]:
    leg = await RtpLeg.open(pool, ULAW_8K, host=HOST, read_timeout_s=5.0)
    caller = await RtpCaller.open((HOST, leg.local_port))
    leg.set_remote(*caller.address)  # what UNICASTRTP_LOCAL_ADDRESS/PORT report
    yield leg, caller
    await leg.hangup()
    caller.close()


async def test_replays_the_ulaw_capture_and_sends_paced_rtp(
    pool: RtpPortPool, ulaw_pair: tuple[RtpLeg, RtpCaller]
) -> None:
    leg, caller = ulaw_pair
    captured = captured_packets("rtp_first_packets.hex")
    for data in captured:
        caller.send_raw(data)
    events = leg.events()
    got = [await asyncio.wait_for(anext(events), 2) for _ in range(10)]
    assert got == [data[12:] for data in captured]

    await leg.send(b"\x01" * 160 * 3)
    await leg.send(b"\x02" * 100)
    leg.flush()
    packets = [parse_rtp(p) for p in await caller.wait_packets(4)]
    assert {p.payload_type for p in packets} == {PT_PCMU}
    assert [p.marker for p in packets] == [True, False, False, False]
    assert [(p.sequence - packets[0].sequence) & 0xFFFF for p in packets] == [0, 1, 2, 3]
    assert [(p.timestamp - packets[0].timestamp) for p in packets] == [0, 160, 320, 480]
    assert len({p.ssrc for p in packets}) == 1
    assert packets[3].payload == b"\x02" * 100 + b"\xff" * 60
    times = [t for t, _ in caller.received[:4]]
    assert 0.04 <= times[-1] - times[0] <= 0.3


async def test_replays_the_slin16_capture_big_endian_on_the_wire(pool: RtpPortPool) -> None:
    leg = await RtpLeg.open(pool, SLIN_16K, host=HOST)
    caller = await RtpCaller.open((HOST, leg.local_port))
    leg.set_remote(*caller.address)
    try:
        for data in captured_packets("rtp_slin16_first_packets.hex")[:2]:
            caller.send_raw(data)
        tone = (np.arange(320) * 50 - 8000).astype("<i2")
        caller.send_audio(PT_SLIN16, tone.astype(">i2").tobytes(), 320)
        events = leg.events()
        frames = [await asyncio.wait_for(anext(events), 2) for _ in range(3)]
        assert frames[2] == tone.tobytes()  # little-endian towards the pipeline
        await leg.send(tone.tobytes())
        (packet,) = [parse_rtp(p) for p in await caller.wait_packets(1)]
        assert packet.payload_type == PT_SLIN16
        assert packet.payload == tone.astype(">i2").tobytes()
    finally:
        await leg.hangup()
        caller.close()


async def test_only_the_announced_address_is_heard_and_answered(
    ulaw_pair: tuple[RtpLeg, RtpCaller], pool: RtpPortPool
) -> None:
    leg, caller = ulaw_pair
    intruder = await RtpCaller.open((HOST, leg.local_port))
    try:
        # The intruder gets in first, with well-formed RTP and with garbage.
        for _ in range(5):
            intruder.send_audio(PT_PCMU, b"\x02" * 160, 160)
        intruder.send_raw(b"garbage")
        caller.send_audio(PT_PCMU, b"\x01" * 160, 160)
        assert await asyncio.wait_for(anext(leg.events()), 2) == b"\x01" * 160
        await leg.send(b"\x03" * 160)
        assert parse_rtp((await caller.wait_packets(1))[0]).payload == b"\x03" * 160
        assert intruder.received == []
        assert leg.foreign_packets == 6
        assert pool.stats()["foreign_packets"] >= 6
        assert not leg.closed
    finally:
        intruder.close()


async def test_an_unannounced_source_is_believed_only_after_packets_in_a_row(
    pool: RtpPortPool,
) -> None:
    leg = await RtpLeg.open(pool, ULAW_8K, host=HOST, read_timeout_s=5.0)
    leg.set_remote("0.0.0.0", 9)  # Asterisk bound to every interface: no address to trust
    caller = await RtpCaller.open((HOST, leg.local_port))
    intruder = await RtpCaller.open((HOST, leg.local_port))
    try:
        intruder.send_audio(PT_PCMU, b"\x02" * 160, 160)
        intruder.send_raw(b"garbage")
        for n in range(1, LATCH_PACKETS + 1):
            caller.send_audio(PT_PCMU, bytes([n]) * 160, 160)
        events = leg.events()
        got = [await asyncio.wait_for(anext(events), 2) for _ in range(LATCH_PACKETS)]
        assert got == [bytes([n]) * 160 for n in range(1, LATCH_PACKETS + 1)]
        assert leg.remote == caller.address
        for _ in range(LATCH_PACKETS):
            intruder.send_audio(PT_PCMU, b"\x02" * 160, 160)
        caller.send_audio(PT_PCMU, b"\x09" * 160, 160)
        assert await asyncio.wait_for(anext(events), 2) == b"\x09" * 160
        assert leg.remote == caller.address
        assert leg.foreign_packets == 2 + LATCH_PACKETS
        assert not leg.closed
    finally:
        await leg.hangup()
        caller.close()
        intruder.close()


async def test_reorders_over_the_socket(ulaw_pair: tuple[RtpLeg, RtpCaller]) -> None:
    leg, caller = ulaw_pair
    for seq in (7, 9, 8, 10):
        caller.send_raw(rtp_packet(PT_PCMU, seq, seq * 160, 1, bytes([seq]) * 160))
    events = leg.events()
    got = [await asyncio.wait_for(anext(events), 2) for _ in range(4)]
    assert [g[0] for g in got if isinstance(g, bytes)] == [7, 8, 9, 10]


async def test_comfort_noise_is_ignored(ulaw_pair: tuple[RtpLeg, RtpCaller]) -> None:
    leg, caller = ulaw_pair
    caller.send_audio(13, b"\x40", 160)
    caller.send_audio(PT_PCMU, b"\x05" * 160, 160)
    assert await asyncio.wait_for(anext(leg.events()), 2) == b"\x05" * 160


BAD_PACKETS: list[tuple[str, bytes, str]] = [
    ("wrong version", struct.pack("!BBHII", 0x40, 0, 1, 160, 1) + bytes(160), "version 1"),
    ("wrong payload type", rtp_packet(8, 1, 160, 1, bytes(160)), "payload type 8"),
    ("dynamic payload type", rtp_packet(101, 1, 160, 1, bytes(4)), "payload type 101"),
    ("runt", b"\x80\x00", "shorter than an RTP header"),
]


@pytest.mark.parametrize(("name", "data", "reason"), BAD_PACKETS, ids=[b[0] for b in BAD_PACKETS])
async def test_bad_packets_close_only_that_leg(
    pool: RtpPortPool, caplog: pytest.LogCaptureFixture, name: str, data: bytes, reason: str
) -> None:
    caplog.set_level(logging.INFO, logger="media")
    good = await RtpLeg.open(pool, ULAW_8K, host=HOST)
    bad = await RtpLeg.open(pool, ULAW_8K, host=HOST)
    good_caller = await RtpCaller.open((HOST, good.local_port))
    bad_caller = await RtpCaller.open((HOST, bad.local_port))
    good.set_remote(*good_caller.address)
    bad.set_remote(*bad_caller.address)
    try:
        bad_caller.send_raw(data)
        await asyncio.wait_for(_until(lambda: bad.closed), 2)
        assert bad.failed
        assert reason in (bad.close_reason or "")
        assert any(reason in r.getMessage() for r in caplog.records)
        with pytest.raises(MediaLegClosed):
            await bad.send(bytes(160))
        good_caller.send_audio(PT_PCMU, b"\x07" * 160, 160)
        assert await asyncio.wait_for(anext(good.events()), 2) == b"\x07" * 160
        assert not good.closed
    finally:
        for leg in (good, bad):
            await leg.hangup()
        good_caller.close()
        bad_caller.close()


async def test_odd_l16_payload_closes_the_leg(pool: RtpPortPool) -> None:
    leg = await RtpLeg.open(pool, SLIN_16K, host=HOST)
    caller = await RtpCaller.open((HOST, leg.local_port))
    leg.set_remote(*caller.address)
    caller.send_raw(rtp_packet(PT_SLIN16, 1, 320, 1, bytes(639)))
    await asyncio.wait_for(_until(lambda: leg.closed), 2)
    assert "odd length" in (leg.close_reason or "")
    caller.close()


async def test_silent_peer_times_out(pool: RtpPortPool) -> None:
    leg = await RtpLeg.open(pool, ULAW_8K, host=HOST, read_timeout_s=0.3)
    await asyncio.wait_for(_until(lambda: leg.closed), 5)
    assert leg.failed
    assert "read timeout" in (leg.close_reason or "")
    assert pool.in_use == 0


async def test_unsupported_format_is_refused(pool: RtpPortPool) -> None:
    from media.formats import SLIN_8K

    with pytest.raises(ValueError, match="supports"):
        await RtpLeg.open(pool, SLIN_8K, host=HOST)


async def _until(cond: Callable[[], bool]) -> None:
    while not cond():  # noqa: ASYNC110 - polls state that has no event to wait on
        await asyncio.sleep(0.01)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(datagrams=st.lists(st.binary(max_size=300), min_size=1, max_size=5))
async def test_fuzzed_datagrams_never_hurt_other_legs(
    pool: RtpPortPool, datagrams: list[bytes]
) -> None:
    victim = await RtpLeg.open(pool, ULAW_8K, host=HOST)
    witness = await RtpLeg.open(pool, ULAW_8K, host=HOST)
    fuzzer = await RtpCaller.open((HOST, victim.local_port))
    caller = await RtpCaller.open((HOST, witness.local_port))
    victim.set_remote(*fuzzer.address)
    witness.set_remote(*caller.address)
    try:
        for d in datagrams:
            fuzzer.send_raw(d)
        caller.send_audio(PT_PCMU, b"\x09" * 160, 160)
        assert await asyncio.wait_for(anext(witness.events()), 2) == b"\x09" * 160
        await asyncio.sleep(0.005)
        assert victim.closed == victim.failed
    finally:
        for leg in (victim, witness):
            await leg.hangup()
        fuzzer.close()
        caller.close()
    assert pool.in_use == 0
