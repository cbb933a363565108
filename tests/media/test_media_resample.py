"""StreamResampler: continuity across chunk boundaries, odd byte counts, flush, identity."""

from __future__ import annotations

import numpy as np
import pytest

from media.resample import StreamResampler


def _chirp(rate: int, seconds: float) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    freq = 200 + 1300 * t / seconds  # 200 Hz -> 1.5 kHz, inside every telephony band
    return (9000 * np.sin(2 * np.pi * np.cumsum(freq) / rate)).astype("<i2")


def _run_chunks(rs: StreamResampler, data: bytes, sizes: list[int]) -> bytes:
    out = bytearray()
    pos = 0
    i = 0
    while pos < len(data):
        n = sizes[i % len(sizes)]
        out += rs.process(data[pos : pos + n])
        pos += n
        i += 1
    out += rs.flush()
    return bytes(out)


RATE_PAIRS = [
    (8000, 16000),
    (16000, 8000),
    (22050, 8000),
    (24000, 8000),
    (44100, 8000),
    (48000, 8000),
]


@pytest.mark.parametrize(("in_rate", "out_rate"), RATE_PAIRS)
@pytest.mark.parametrize("low_latency", [True, False])
def test_streamed_equals_one_shot(in_rate: int, out_rate: int, low_latency: bool) -> None:
    data = _chirp(in_rate, 1.0).tobytes()
    one_shot = StreamResampler(in_rate, out_rate, low_latency=low_latency)
    whole = one_shot.process(data) + one_shot.flush()
    # Odd and uneven chunk sizes: every boundary falls at a different phase, some mid-sample.
    streamed = _run_chunks(
        StreamResampler(in_rate, out_rate, low_latency=low_latency), data, [321, 7, 960, 1, 77]
    )
    a = np.frombuffer(whole, "<i2").astype(np.int32)
    b = np.frombuffer(streamed, "<i2").astype(np.int32)
    assert abs(len(a) - len(b)) <= 2
    n = min(len(a), len(b))
    # Equal within soxr's own rounding: at most 2 LSB apart anywhere.
    assert np.max(np.abs(a[:n] - b[:n])) <= 2
    assert len(a) == pytest.approx(len(data) // 2 * out_rate / in_rate, abs=out_rate // 100)


@pytest.mark.parametrize(("in_rate", "out_rate"), RATE_PAIRS)
def test_no_clicks_at_frame_boundaries(in_rate: int, out_rate: int) -> None:
    data = _chirp(in_rate, 1.0).tobytes()
    frame = in_rate // 50 * 2
    rs = StreamResampler(in_rate, out_rate)
    out = np.frombuffer(_run_chunks(rs, data, [frame]), "<i2").astype(np.int32)
    body = out[out_rate // 20 : -out_rate // 20]  # skip the filter's ramp in and out
    # A 1.5 kHz sine of amplitude 9000 moves at most 2*pi*1500*9000/rate per sample; a click at
    # a chunk seam would jump far beyond that.
    max_step = 2 * np.pi * 1500 * 9000 / out_rate
    assert np.max(np.abs(np.diff(body))) < 1.2 * max_step


def test_odd_bytes_are_carried() -> None:
    rs = StreamResampler(8000, 8000)
    assert rs.process(b"\x01") == b""
    assert rs.process(b"\x02\x03") == b"\x01\x02"
    assert rs.process(b"\x04") == b"\x03\x04"
    assert rs.flush() == b""


def test_identity_returns_input_unchanged() -> None:
    data = _chirp(16000, 0.1).tobytes()
    assert StreamResampler(16000, 16000).process(data) == data


def test_low_latency_stream_keeps_up_frame_by_frame() -> None:
    rs = StreamResampler(8000, 16000)
    frame = bytes(320)
    sizes = [len(rs.process(frame)) for _ in range(20)]
    assert sizes[3:] == [640] * 17  # after the filter delay, one frame in gives one frame out


def test_flush_resets_for_the_next_utterance() -> None:
    rs = StreamResampler(24000, 8000, low_latency=False)
    data = _chirp(24000, 0.2).tobytes()
    first = rs.process(data) + rs.flush()
    second = rs.process(data) + rs.flush()
    a = np.frombuffer(first, "<i2").astype(np.int32)
    b = np.frombuffer(second, "<i2").astype(np.int32)
    assert len(a) == len(b)
    assert np.max(np.abs(a - b)) <= 2  # soxr dithers its int16 output by up to an LSB or two


def test_rejects_bad_rates() -> None:
    with pytest.raises(ValueError, match="positive"):
        StreamResampler(0, 8000)
