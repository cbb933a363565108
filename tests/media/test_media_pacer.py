"""Framing, marks, clear, backpressure and drift-free pacing."""

from __future__ import annotations

import asyncio
import random

import pytest

from media.formats import ALAW_8K, SLIN_8K, ULAW_8K, AudioFormat
from media.leg import MarkReached, MediaLegClosed
from media.paced_leg import PacedLeg
from media.pacer import FrameTicker, OutboundQueue

PERIOD = 0.02


# -- OutboundQueue ------------------------------------------------------------------------


def test_frames_any_length_and_keeps_the_partial_tail() -> None:
    q = OutboundQueue(ULAW_8K)
    q.push(b"\x01" * 100)
    assert q.pop_frame() is None
    q.push(b"\x02" * 250)
    assert q.pop_frame() == b"\x01" * 100 + b"\x02" * 60
    assert q.pop_frame() == b"\x02" * 160
    assert q.pop_frame() is None
    assert q.queued_bytes == 30


@pytest.mark.parametrize(
    ("fmt", "pad"), [(ULAW_8K, b"\xff"), (ALAW_8K, b"\xd5"), (SLIN_8K, b"\x00")]
)
def test_flush_and_mark_pad_with_the_codecs_silence(fmt: AudioFormat, pad: bytes) -> None:
    q = OutboundQueue(fmt)
    fb = q.format.frame_bytes
    q.push(b"\x11" * 11)  # odd byte count, even for slin
    q.mark("end")
    assert q.reached_marks() == []
    assert q.pop_frame() == b"\x11" * 11 + pad * (fb - 11)
    assert q.reached_marks() == ["end"]
    q.push(b"\x22" * 3)
    q.flush()
    assert q.pop_frame() == b"\x22" * 3 + pad * (fb - 3)


def test_marks_fire_in_order_once_their_audio_is_out() -> None:
    q = OutboundQueue(ULAW_8K)
    q.mark("empty")
    assert q.reached_marks() == ["empty"]
    q.push(bytes(320))
    q.mark("a")
    q.push(bytes(160))
    q.mark("b")
    assert q.pop_frame() is not None
    assert q.reached_marks() == []
    assert q.pop_frame() is not None
    assert q.reached_marks() == ["a"]
    assert q.pop_frame() is not None
    assert q.reached_marks() == ["b"]


def test_clear_drops_audio_and_returns_pending_marks() -> None:
    q = OutboundQueue(ULAW_8K)
    q.push(bytes(1600))
    q.mark("x")
    q.push(bytes(77))
    q.mark("y")
    assert q.queued_ms == 220
    assert q.clear() == ["x", "y"]
    assert q.queued_ms == 0
    assert q.pop_frame() is None
    q.push(b"\x05" * 160)
    q.mark("z")
    assert q.pop_frame() == b"\x05" * 160
    assert q.reached_marks() == ["z"]


def test_long_streams_compact_the_buffer() -> None:
    q = OutboundQueue(ULAW_8K)
    for i in range(1000):
        q.push(bytes([i % 256]) * 160)
        assert q.pop_frame() == bytes([i % 256]) * 160
    assert len(q._buf) < 32 * 1024


def test_water_marks_are_validated() -> None:
    with pytest.raises(ValueError, match="water"):
        OutboundQueue(ULAW_8K, high_water_ms=100, low_water_ms=200)


# -- FrameTicker on a simulated clock -----------------------------------------------------


class SimClock:
    """A clock that only moves when the ticker sleeps, oversleeping like a loaded machine."""

    def __init__(self, jitter_s: float, seed: int = 1) -> None:
        self.now = 1000.0
        self.jitter_s = jitter_s
        self.rng = random.Random(seed)
        self.extra: dict[int, float] = {}  # sleep number -> extra delay
        self.sleeps = 0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds + self.rng.uniform(0, self.jitter_s) + self.extra.get(self.sleeps, 0)


class Recorder:
    def __init__(self, ticker: FrameTicker, n: int) -> None:
        self.times: list[float] = []
        self.ticker = ticker
        self.n = n

    def on_tick(self, now: float) -> None:
        self.times.append(now)
        if len(self.times) == self.n:
            self.ticker.discard(self)


async def _run_sim(sim: SimClock, n: int) -> tuple[FrameTicker, list[float]]:
    ticker = FrameTicker(clock=sim.clock, sleep=sim.sleep)
    rec = Recorder(ticker, n)
    ticker._targets[rec] = None
    start = sim.now
    await ticker.run()
    return ticker, [t - start for t in rec.times]


async def test_no_drift_over_ten_simulated_minutes() -> None:
    n = 10 * 60 * 50
    sim = SimClock(jitter_s=0.004)
    ticker, times = await _run_sim(sim, n)
    errors = [t - (k + 1) * PERIOD for k, t in enumerate(times)]
    assert min(errors) >= 0
    assert max(errors) <= 0.004 + 1e-9  # each tick is off by its own jitter only
    assert errors[-1] < 0.001 + 0.004  # and nothing accumulated over 30,000 ticks
    assert abs(sum(errors[-500:]) / 500 - sum(errors[:500]) / 500) < 0.001
    assert ticker.reanchors == 0


async def test_late_tick_sends_at_once_and_keeps_the_schedule() -> None:
    sim = SimClock(jitter_s=0)
    sim.extra[100] = 0.050  # the 100th wake-up is 50 ms late
    _, times = await _run_sim(sim, 200)
    assert times[99] == pytest.approx(100 * PERIOD + 0.050)
    assert times[100] == pytest.approx(times[99])  # due already: sent immediately
    assert times[101] == pytest.approx(times[99])
    assert times[102] == pytest.approx(103 * PERIOD)  # back on the original grid
    assert times[199] == pytest.approx(200 * PERIOD)


async def test_long_stall_reanchors_instead_of_bursting() -> None:
    sim = SimClock(jitter_s=0)
    sim.extra[100] = 0.5
    ticker, times = await _run_sim(sim, 200)
    stall_end = times[99]
    assert stall_end == pytest.approx(100 * PERIOD + 0.5)
    assert [round(t - stall_end, 6) for t in times[100:103]] == [0.02, 0.04, 0.06]
    assert ticker.reanchors == 1


# -- PacedLeg with a real ticker ----------------------------------------------------------


class RecordingLeg(PacedLeg):
    def __init__(self, ticker: FrameTicker, **kw: int) -> None:
        super().__init__(ULAW_8K, ticker, **kw)
        self.sent: list[bytes] = []
        self.transport_closed = False
        self._start()

    def _transmit(self, frame: bytes) -> None:
        self.sent.append(frame)

    def _close_transport(self) -> None:
        self.transport_closed = True

    async def hangup(self) -> None:
        self._close("hangup by us")


async def test_clear_stops_audio_within_one_frame_and_fires_marks() -> None:
    ticker = FrameTicker()
    leg = RecordingLeg(ticker)
    await leg.send(b"\x01" * 160 * 50)  # one second
    leg.mark("sentence-1")
    await asyncio.sleep(0.1)
    assert 2 <= len(leg.sent) < 50
    leg.clear()
    sent_at_clear = len(leg.sent)
    assert leg.queued_ms == 0
    await asyncio.sleep(0.1)
    assert len(leg.sent) == sent_at_clear  # nothing of the old audio left the leg
    events = leg.events()
    assert await anext(events) == MarkReached("sentence-1")
    await leg.hangup()


async def test_paced_at_real_time_and_marks_after_playback() -> None:
    ticker = FrameTicker()
    leg = RecordingLeg(ticker)
    loop = asyncio.get_running_loop()
    await leg.send(b"\x02" * 160 * 10)
    leg.mark("done")
    start = loop.time()
    event = await anext(leg.events())
    elapsed = loop.time() - start
    assert event == MarkReached("done")
    assert len(leg.sent) == 10
    assert 0.18 <= elapsed <= 0.6  # 10 frames then one more tick; generous for a loaded box
    await leg.hangup()


async def test_send_waits_above_high_water_and_resumes_at_low_water() -> None:
    ticker = FrameTicker()
    leg = RecordingLeg(ticker, high_water_ms=100, low_water_ms=60)
    await leg.send(bytes(160 * 5))  # exactly at high water: accepted
    blocked = asyncio.create_task(leg.send(bytes(160)))
    await asyncio.sleep(0.005)
    assert not blocked.done()
    await asyncio.wait_for(blocked, 1.0)
    assert leg.queued_ms <= 80
    await leg.hangup()
    with pytest.raises(MediaLegClosed):
        await leg.send(bytes(160))


async def test_a_send_blocked_across_clear_drops_its_stale_audio() -> None:
    ticker = FrameTicker()
    leg = RecordingLeg(ticker, high_water_ms=100, low_water_ms=60)
    await leg.send(b"\x01" * 160 * 10)
    blocked = asyncio.create_task(leg.send(b"\x02" * 160))
    await asyncio.sleep(0.005)
    leg.clear()  # barge-in while the producer waits on backpressure
    await asyncio.wait_for(blocked, 1.0)
    await leg.send(b"\x03" * 160)  # the reply to the interruption
    await asyncio.sleep(0.1)
    assert b"\x02" * 160 not in leg.sent
    assert leg.sent[-1] == b"\x03" * 160
    await leg.hangup()


async def test_closing_wakes_a_blocked_sender_and_ends_events() -> None:
    ticker = FrameTicker()
    leg = RecordingLeg(ticker, high_water_ms=40, low_water_ms=20)
    await leg.send(bytes(160 * 10))
    blocked = asyncio.create_task(leg.send(bytes(160)))
    reader = asyncio.create_task(anext(leg.events(), None))
    await asyncio.sleep(0.005)
    await leg.hangup()
    with pytest.raises(MediaLegClosed):
        await blocked
    assert await reader is None
    assert leg.closed
    assert leg.transport_closed
    assert ticker.target_count == 0


async def test_one_ticker_paces_many_legs() -> None:
    ticker = FrameTicker()
    legs = [RecordingLeg(ticker) for _ in range(20)]
    for leg in legs:
        await leg.send(bytes(160 * 5))
    await asyncio.sleep(0.2)
    assert all(len(leg.sent) == 5 for leg in legs)
    for leg in legs:
        await leg.hangup()
