"""Word error rate of the offline recognizers on telephone speech, per recognizer setting.

    uv run --frozen --no-sync python -m bench.offline_wer [--settings NAME ...]

Two sets, each heard as calls (one recognizer stream per call, an utterance per sentence,
so the first utterance meets a cold decoder as on a real call):
- `test set`: a salon caller's sentences that the agent's intents do not contain word for
  word, in three voicings of the bundled Piper voice (normal; fast and louder with Piper's
  own random variation; slow, quiet and with line noise), through µ-law 8 kHz;
- `other voices`: the same sentences in three voices of eSpeak NG (US man, US woman,
  Scottish man; formant synthesis, far from Piper's), through µ-law 8 kHz, when `espeak-ng`
  is installed (Debian's package of that name);
- `demo caller`: the sentences of `vocals demo`'s caller, and `load-test caller`: the five of
  the simulated caller, each spoken as they speak them (Piper's defaults), through µ-law 8 kHz.
The audio is the same on every run (Piper's variation is seeded), so runs compare settings,
not voicings. Prints WER per setting and set, and the worker CPU per second of audio. (The
audio goes in faster than real time, so the final's wait is measured by
`bench.local_loop_lag`.)
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
from typing import Any

import msgspec
import numpy as np
import onnxruntime  # type: ignore[import-untyped]
from piper import SynthesisConfig

from bench.providers_audio import through_telephone
from providers import builtin
from providers.base import ProviderConfig, STTProvider
from providers.local import shared
from providers.registry import build
from providers.stt.expected_speech import agent_phrases
from providers.tts.piper import _VOICE_PATHS, DEFAULT_VOICE
from providers.tts.piper_worker import load_voice
from vocals.demo import CALLER_SCRIPT, SYSTEM_PROMPT, WELCOME
from vocals.simulator.voices import CALLER_PHRASES

TEST_SENTENCES = (
    "Hello, could you tell me when you open on Saturday?",
    "What time do you close today?",
    "I'd like to get a haircut next Tuesday afternoon.",
    "How much do you charge for a haircut?",
    "Is there somewhere to park near the salon?",
    "Can I come in this Friday at ten?",
    "What's your address, please?",
    "I need to cancel my appointment.",
    "Do you have anything free on Monday evening?",
    "Yes please, that would be great.",
    "No, that's everything, thank you so much.",
    "Could you say that again, please?",
)


class Voicing(msgspec.Struct, frozen=True):
    """How one call's caller sounds."""

    name: str
    length_scale: float = 1.0
    # Piper's random variation of pitch and timing (its defaults), or none.
    noise_scale: float = 0.667
    noise_w_scale: float = 0.8
    gain: float = 0.8
    # White noise on the line, dB below the speech's RMS; None: a clean line.
    snr_db: float | None = None


TEST_VOICINGS = (
    Voicing("normal", noise_scale=0.0, noise_w_scale=0.0, gain=0.3),
    Voicing("fast", length_scale=0.8, gain=0.9),
    Voicing("slow, quiet, noisy", length_scale=1.25, gain=0.15, snr_db=20.0),
)
DEMO_VOICING = Voicing("as the demo speaks")
# eSpeak NG voices (its `-v` names) for the `other voices` set, at its own 22.05 kHz.
ESPEAK_VOICES = ("en-us", "en-us+f3", "en-gb-scotland")
ESPEAK_RATE = 22050

# The demo agent's phrases, as the agent loader derives them for its recognizer.
DEMO_PHRASES = agent_phrases(ProviderConfig(vendor="scripted"), SYSTEM_PROMPT, WELCOME)
# The phrases' shares of the blended model compared (the provider's default is one of them).
PHRASE_WEIGHTS = (0.7, 0.5, 0.3, 0.2, 0.1)
SETTINGS: dict[str, dict[str, Any]] = {
    "before (general LM, first utterance re-decoded)": {"redecode_first": 1},
    "streaming only (general LM)": {"redecode_first": 0},
    "after (demo agent's LM blended, streaming)": {"redecode_first": 0, "phrases": DEMO_PHRASES},
    "demo agent's LM blended, first re-decoded": {"redecode_first": 1, "phrases": DEMO_PHRASES},
    **{
        f"demo agent's LM blended, {hmms} HMMs per frame": {
            "phrases": DEMO_PHRASES,
            "max_hmms": hmms,
        }
        for hmms in (3000, 30_000)  # beside the default 5000: fewer, and PocketSphinx's own
    },
    **{
        f"demo agent's LM blended, its weight {weight}": {
            "redecode_first": 0,
            "phrases": DEMO_PHRASES,
            "phrase_weight": weight,
        }
        for weight in PHRASE_WEIGHTS
    },
    # Whisper tiny.en: the utterance decoded when it ends, no agent model.
    "faster-whisper (Whisper tiny.en)": {"vendor": "faster-whisper"},
}

FRAME = 640
SILENCE = bytes(FRAME * 20)
_WORD = re.compile(r"[a-z']+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("-", " "))


def edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    row = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        previous, row[0] = row[0], i
        for j, hyp in enumerate(hypothesis, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ref != hyp))
    return row[-1]


def speech(text: str, voicing: Voicing, rng: np.random.Generator) -> bytes:
    """`text` as the recognizer hears it at the far end of a µ-law line (16 kHz PCM16)."""
    voice = load_voice(_VOICE_PATHS[DEFAULT_VOICE])
    config = SynthesisConfig(
        length_scale=voicing.length_scale,
        noise_scale=voicing.noise_scale,
        noise_w_scale=voicing.noise_w_scale,
    )
    pcm = b"".join(c.audio_int16_bytes for c in voice.synthesize(text, config))
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) * voicing.gain
    if voicing.snr_db is not None:
        rms = float(np.sqrt(np.mean(samples**2)))
        samples += rng.normal(0, rms * 10 ** (-voicing.snr_db / 20), len(samples))
    clipped = np.clip(samples, -32768, 32767).astype(np.int16).tobytes()
    return through_telephone(clipped)


class Call(msgspec.Struct, frozen=True):
    """One caller's sentences and their audio."""

    name: str
    sentences: tuple[str, ...]
    audio: list[bytes]


def espeak_speech(text: str, voice: str) -> bytes:
    """`text` spoken by eSpeak NG's `voice`, at the far end of a µ-law line (16 kHz PCM16)."""
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", "160", "--stdout", text],
        check=True,
        capture_output=True,
    ).stdout
    return through_telephone(wav[44:], ESPEAK_RATE)  # after the canonical 44-byte header


def make_calls(seed: int = 7) -> dict[str, list[Call]]:
    """The sets' audio, the same on every run: Piper's variation is drawn by onnxruntime,
    seeded here before the voice is loaded, and the line noise by `rng`."""
    onnxruntime.set_seed(seed)
    rng = np.random.default_rng(seed)

    def call(name: str, sentences: tuple[str, ...], voicing: Voicing) -> Call:
        audio = [SILENCE + speech(s, voicing, rng) + SILENCE for s in sentences]
        return Call(name, sentences, audio)

    others = [
        Call(
            voice,
            TEST_SENTENCES,
            [SILENCE + espeak_speech(s, voice) + SILENCE for s in TEST_SENTENCES],
        )
        for voice in (ESPEAK_VOICES if shutil.which("espeak-ng") else ())
    ]
    return {
        "test set": [call(v.name, TEST_SENTENCES, v) for v in TEST_VOICINGS],
        **({"other voices": others} if others else {}),
        # Apart: the load test's caller is heard almost word for word, and together the two
        # hid that the demo's own sentences are heard far worse.
        "demo caller": [call("vocals demo", CALLER_SCRIPT, DEMO_VOICING)],
        "load-test caller": [call("simulated caller", CALLER_PHRASES, DEMO_VOICING)],
    }


class Heard(msgspec.Struct, frozen=True):
    errors: int
    reference_words: int
    audio_seconds: float
    transcripts: list[tuple[str, str]]


async def hear(call: Call, setting: dict[str, Any]) -> Heard:
    options = dict(setting)
    vendor = options.pop("vendor", "pocketsphinx")
    stt = build("stt", ProviderConfig(vendor=vendor, options=options))
    assert isinstance(stt, STTProvider)
    await stt.connect()
    await stt.prepare()  # the agent's model, not the general one a first call starts on
    results = stt.transcripts()
    errors = total = 0
    pairs = []
    try:
        for sentence, audio in zip(call.sentences, call.audio, strict=True):
            for start in range(0, len(audio), FRAME):
                await stt.send_audio(audio[start : start + FRAME])
            await stt.end_utterance()
            async for result in results:
                if result.is_final:
                    reference, hypothesis = words(sentence), words(result.text)
                    errors += edit_distance(reference, hypothesis)
                    total += len(reference)
                    pairs.append((sentence, result.text))
                    break
    finally:
        await stt.close()
    seconds = sum(len(a) for a in call.audio) / 32000
    return Heard(errors, total, seconds, pairs)


async def main(names: list[str], show: bool) -> None:
    builtin.load_all()
    calls = make_calls()
    pool = await shared.start()
    for name in names:
        print(f"\n{name}")
        for set_name, set_calls in calls.items():
            cpu_before = pool.stats().cpu_seconds
            heard = await asyncio.gather(*(hear(c, SETTINGS[name]) for c in set_calls))
            cpu = pool.stats().cpu_seconds - cpu_before
            errors = sum(h.errors for h in heard)
            total = sum(h.reference_words for h in heard)
            audio_s = sum(h.audio_seconds for h in heard)
            print(
                f"  {set_name:16} WER {100 * errors / total:5.1f} % ({errors}/{total} words)"
                f"   worker CPU {cpu / audio_s:.3f} s per s of audio"
            )
            if show:
                for h in heard:
                    for sentence, text in h.transcripts:
                        print(f"      {sentence!r:58} -> {text!r}")
    await shared.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    parser.add_argument("--show", action="store_true", help="print every transcript")
    args = parser.parse_args()
    asyncio.run(main(args.settings, args.show))
