"""In-band DTMF: the two tones of each key (ITU-T Q.23), as wire audio of a leg's format.

For transports that carry only audio to the far end (a Twilio Media Stream), keys are played
like a phone's keypad does; G.711 carries them to the IVR's detector (Q.24 timing).
"""

from __future__ import annotations

from typing import Final

import numpy as np

from media.codec import encode_from_pcm
from media.formats import AudioFormat

ROWS_HZ: Final = (697.0, 770.0, 852.0, 941.0)
COLUMNS_HZ: Final = (1209.0, 1336.0, 1477.0, 1633.0)
GRID: Final = ("123A", "456B", "789C", "*0#D")  # the keys of each row, by column
# Row and column frequencies (Hz) of each key.
KEY_TONES: Final[dict[str, tuple[float, float]]] = {
    key: (row, col)
    for row, keys in zip(ROWS_HZ, GRID, strict=True)
    for key, col in zip(keys, COLUMNS_HZ, strict=True)
}
# Q.24 asks detectors to accept 40 ms keys and 40 ms gaps; phones send about 100 ms of each.
TONE_S: Final = 0.12
GAP_S: Final = 0.1
# Each tone at about -7 dBm0, well above detectors' thresholds and below clipping in µ-law.
AMPLITUDE: Final = 7000


def dtmf_audio(digits: str, fmt: AudioFormat) -> bytes:
    """`digits` as keys pressed one after another, each followed by a gap; raises
    `ValueError` for a character that is no key."""
    rate = fmt.sample_rate
    t = np.arange(int(TONE_S * rate)) / rate
    gap = np.zeros(int(GAP_S * rate))
    parts = []
    for key in digits:
        if key not in KEY_TONES:
            raise ValueError(f"{key!r} is not a DTMF key")
        low, high = KEY_TONES[key]
        parts += [AMPLITUDE * (np.sin(2 * np.pi * low * t) + np.sin(2 * np.pi * high * t)), gap]
    samples = np.concatenate(parts) if parts else np.zeros(0)
    return encode_from_pcm(samples.astype("<i2").tobytes(), fmt)
