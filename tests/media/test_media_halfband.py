"""The 2:1 half-band resamplers: a tone goes up and back down whole, a few samples late, its
image above the low rate's band removed, the same whether streamed or in one piece."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from media.halfband import TAPS, Downsample2, Upsample2


def tone(hz: float, rate: int, seconds: float = 0.5) -> npt.NDArray[np.int16]:
    t = np.arange(int(rate * seconds)) / rate
    return (8000 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def samples(pcm: bytes) -> npt.NDArray[np.float64]:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


def power(x: npt.NDArray[np.float64], rate: int, low: float, high: float) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    return float(spectrum[(freqs >= low) & (freqs < high)].sum())


def test_a_round_trip_gives_the_tone_back_a_few_samples_late() -> None:
    up, down = Upsample2(), Downsample2()
    sent = tone(1000, 8000)
    back = b"".join(
        down.process(up.process(sent[i : i + 160].tobytes())) for i in range(0, len(sent), 160)
    )
    got = samples(back)
    assert len(got) == len(sent)
    delay = TAPS - 1  # half the filter at 16 kHz, twice: one sample at 8 kHz per two
    delay_8k = delay // 2
    settled = slice(1000, len(sent) - 100)
    expected = sent.astype(np.float64)[settled.start - delay_8k : settled.stop - delay_8k]
    assert np.max(np.abs(got[settled] - expected)) < 0.02 * 8000


def test_upsampling_removes_the_image_above_the_low_rates_band() -> None:
    up = Upsample2()
    wide = samples(up.process(tone(3000, 8000).tobytes()))
    in_band = power(wide, 16000, 2900, 3100)
    image = power(wide, 16000, 4900, 5100)  # where zero-stuffing mirrors 3 kHz
    assert image < in_band * 1e-4  # 40 dB down


def test_streamed_equals_one_shot() -> None:
    x = (np.random.default_rng(3).normal(0, 3000, 3200)).astype(np.int16).tobytes()
    for make in (Upsample2, Downsample2):
        whole = make().process(x)
        stream = make()
        pieces = b"".join(stream.process(x[i : i + 322]) for i in range(0, len(x), 322))
        assert pieces == whole
    assert Upsample2().process(b"") == b"" and Downsample2().process(b"") == b""
