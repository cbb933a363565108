"""Turn-taking on telephone audio: how soon each end-of-turn policy answers, how often it cuts
a caller off mid-thought, how often a backchannel or a noise stops the agent, and its CPU.

    uv run --frozen --no-sync python -m bench.turn_taking [--stt-lag-ms 150]
        [--words labels|recognizer] [--only lag|policies|barge-in]

Runs the test set of `bench.turn_set` (built into its cache at first use) through the
pipeline's own inbound path (`InboundAudio`: µ-law decode, the VAD with the policy's end
rule) frame by frame, faster than real time, with each VAD engine (`webrtc`, and `silero`
in-process but one frame late, as calls run it in the local workers). The words a policy
sees are the set's labels, given to it `--stt-lag-ms` after each phrase ends, as a streaming
recognizer's partials would be (the policies alone), or with `--words recognizer` what
PocketSphinx heard, when it heard it (`bench.turn_stt`, run first), and its word error rate.

- delay: from the caller's last speech to the end-of-turn decision, over every turn (p50, p99);
  the response then adds STT final, LLM and TTS time, the same for every policy;
- cut-offs: mid-thought pauses (250-600 ms, inside one turn) the policy took as the turn's end;
- splits: single-phrase turns ended before the caller finished (at a comma's pause);
- barge-ins: backchannels and noise bursts said while the agent talks that would stop it at
  `medium` sensitivity, and real turns said over the agent that do (they should) and how long
  after their first speech, under the plain rule (speech time or words) and the engine's
  backchannel-aware one;
- CPU: process time per second of call audio, as % of one core per call.

Also the VAD's decision lag frame by frame: from the true end of speech to the first frame of
the silence the end rule counts, for webrtcvad and Silero alone and with media's noise-floor
gate. The machine is shared: CPU figures are upper bounds.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import webrtcvad

from bench.turn_set import DEFAULT_CACHE, Case, build, load_pcm
from bench.turn_stt import Heard, load_timelines, wer
from media.formats import FRAME_MS, ULAW_8K
from media.g711 import ulaw_encode
from media.vad import (
    VAD_PROFILES,
    BargeInSensitivity,
    FrameClassifier,
    SpeechEnded,
    SpeechStarted,
)
from media.vad import VoiceActivityDetector as Vad
from pipeline.backchannel import BackchannelBargeIn
from pipeline.bargein import BargeInPolicy
from pipeline.inbound import InboundAudio
from pipeline.turn_taking import (
    EndOfTurnPolicy,
    SilencePolicy,
    SmartPolicy,
    SmartTurnSettings,
)
from providers.vad.silero import SILERO_THRESHOLDS, SileroFrameClassifier

FRAME_BYTES = 160  # 20 ms of µ-law at 8 kHz
PROFILE = VAD_PROFILES[BargeInSensitivity.MEDIUM]
# A resumed phrase's onset takes the VAD this long to hear; a decision within it is a cut-off.
_ONSET_MS = 100
# The silence (ms) the lag measurement waits for before it calls speech over.
_LAG_RUN_MS = 100

PolicyFactory = Callable[[], EndOfTurnPolicy]


class _OneFrameLate:
    """Silero as a call runs it in a local worker: each frame is judged by the answer to the
    frame before (`providers.vad.local`)."""

    def __init__(self) -> None:
        self._model = SileroFrameClassifier(8000, SILERO_THRESHOLDS[PROFILE.aggressiveness])
        self._last = False

    def is_speech(self, frame: bytes, sample_rate: int) -> bool:
        said, self._last = self._last, self._model.is_speech(frame, sample_rate)
        return said


# The turn-taking VAD's frame classifier per engine (None: media's webrtcvad).
ENGINES: dict[str, Callable[[], FrameClassifier | None]] = {
    "webrtc": lambda: None,
    "silero": _OneFrameLate,
}


class _NoShortWait(SmartPolicy):
    """`smart` before short statements waited the ordinary silence (the bench's "before")."""

    def may_go_on(self, text: str) -> bool:
        return False


class _LengthenOnly(SmartPolicy):
    """`smart` for an untrusted recognizer as first designed: open endings wait to the cap,
    finished-looking words the ordinary silence (measured, not shipped: see turn_taking)."""

    def heard(self, text: str) -> None:
        super().heard(text)
        self._wait_ms = max(self._wait_ms, self.settings.unknown_ms)


@dataclass
class Tally:
    """One policy's results over the set."""

    delays: list[int] = field(default_factory=list)
    missed: int = 0
    pauses: int = 0
    cut_offs: int = 0
    single: int = 0
    splits: int = 0
    cpu_s: float = 0.0
    audio_s: float = 0.0


def _text_at(case: Case, at_ms: int, lag_ms: int) -> str:
    return " ".join(p.text for p in case.phrases if p.end_ms + lag_ms <= at_ms)


# The words a policy has been given of a case `at_ms` into its audio.
Words = Callable[[Case, int], str]


def labels(lag_ms: int) -> Words:
    """The set's own words, each phrase `lag_ms` after it ends."""
    return lambda case, at_ms: _text_at(case, at_ms, lag_ms)


def recognized(timelines: dict[str, Heard]) -> Words:
    """The recognizer's partials as `bench.turn_stt` dated them."""

    def at(case: Case, at_ms: int) -> str:
        said = [text for t, text in timelines[case.name].partials if t <= at_ms]
        return said[-1] if said else ""

    return at


def run_turn(
    case: Case, pcm: bytes, policy: EndOfTurnPolicy, engine: str, words: Words, tally: Tally
) -> None:
    """Feed one caller turn through the inbound path; tally where its turn was judged over."""
    line = ulaw_encode(pcm)
    started = time.process_time()
    classifier = ENGINES[engine]()
    inbound = InboundAudio(ULAW_8K, PROFILE, 8000, end_rule=policy.turn_over, classifier=classifier)
    decided: list[int] = []
    said = ""
    for offset in range(0, len(line) - FRAME_BYTES + 1, FRAME_BYTES):
        events, _ = inbound.process(line[offset : offset + FRAME_BYTES])
        for event in events:
            if isinstance(event, SpeechStarted):
                policy.heard(said := "")
            elif isinstance(event, SpeechEnded):
                decided.append(inbound.stream_ms)
        text = words(case, inbound.stream_ms)
        if text != said:
            policy.heard(said := text)
    tally.cpu_s += time.process_time() - started
    tally.audio_s += len(line) / 8000
    end = case.speech_end_ms
    after = [t for t in decided if t >= end]
    if after:
        tally.delays.append(after[0] - end)
    else:
        tally.missed += 1
    for start, resume in case.pauses:
        tally.pauses += 1
        tally.cut_offs += any(start <= t < resume + _ONSET_MS for t in decided)
    if len(case.phrases) == 1:
        tally.single += 1
        tally.splits += any(t < end for t in decided)


def barged_in(
    case: Case, pcm: bytes, lag_ms: int, policy: BargeInPolicy, engine: str
) -> int | None:
    """When `case`, said while the agent talks, stops it (ms after its first speech), or None:
    the engine's rule, asked every frame with the speech time so far and the words heard."""
    line = ulaw_encode(pcm)
    inbound = InboundAudio(ULAW_8K, PROFILE, 8000, classifier=ENGINES[engine]())
    onset_voiced = speech_at_start = 0
    for offset in range(0, len(line) - FRAME_BYTES + 1, FRAME_BYTES):
        events, _ = inbound.process(line[offset : offset + FRAME_BYTES])
        for event in events:
            if isinstance(event, SpeechStarted):
                speech_at_start = inbound.stream_ms - event.at_ms
                onset_voiced = inbound.voiced_ms
        if inbound.in_speech:
            speech_ms = speech_at_start + inbound.voiced_ms - onset_voiced
            if policy.should_interrupt(speech_ms, _text_at(case, inbound.stream_ms, lag_ms)):
                return inbound.stream_ms - case.phrases[0].start_ms
    return None


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:5.1f} % ({part}/{whole})" if whole else "-"


def _p(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def policies_table(cases: list[Case], cache: Path, words: Words, source: str) -> None:
    policies: dict[str, PolicyFactory] = {
        "silence 600 ms (medium default)": lambda: SilencePolicy(PROFILE.min_silence_ms),
        "silence 200 ms": lambda: SilencePolicy(200),
        "smart, no short-statement wait": lambda: _NoShortWait(SmartTurnSettings()),
        "smart (200 / 1200 / 600 ms)": lambda: SmartPolicy(SmartTurnSettings()),
        "smart, words may only lengthen": lambda: _LengthenOnly(SmartTurnSettings()),
        "smart, untrusted words (ships)": lambda: SilencePolicy(SmartTurnSettings().unknown_ms),
    }
    turns = [c for c in cases if c.kind == "turn"]
    print(f"{len(turns)} turns, words: {source}")
    header = (
        f"{'policy':34} {'vad':6} {'line':6} {'delay p50':>9} {'p99':>6} {'missed':>6}  "
        f"{'cut-offs':20} {'splits':18} {'CPU/call':>8}"
    )
    print(header)
    for label, make in policies.items():
        for engine, noisy in itertools.product(ENGINES, (False, True)):
            tally = Tally()
            for case in (c for c in turns if c.noisy is noisy):
                run_turn(case, load_pcm(cache, case), make(), engine, words, tally)
            cpu = 100.0 * tally.cpu_s / tally.audio_s
            print(
                f"{label:34} {engine:6} {'noisy' if noisy else 'clean':6} "
                f"{statistics.median(tally.delays):7.0f}ms {_p(tally.delays, 0.99):4d}ms "
                f"{tally.missed:6}  {_pct(tally.cut_offs, tally.pauses):20} "
                f"{_pct(tally.splits, tally.single):18} {cpu:6.2f} %"
            )


def barge_in_table(cases: list[Case], cache: Path, lag_ms: int) -> None:
    print("said over the agent, medium sensitivity: share that stops it, and when (from onset)")
    policies: dict[str, Callable[[], BargeInPolicy]] = {
        "speech time or words": lambda: BargeInPolicy(BargeInSensitivity.MEDIUM),
        "backchannel-aware": lambda: BackchannelBargeIn(BargeInSensitivity.MEDIUM),
    }
    for (label, make), engine in itertools.product(policies.items(), ENGINES):
        for kind in ("backchannel", "noise", "turn"):
            for noisy in (False, True):
                chosen = [c for c in cases if c.kind == kind and c.noisy is noisy]
                stops = [barged_in(c, load_pcm(cache, c), lag_ms, make(), engine) for c in chosen]
                at = [ms for ms in stops if ms is not None]
                want = "should" if kind == "turn" else "should not"
                line = "noisy" if noisy else "clean"
                when = f"  after {_p(at, 0.5)} / {_p(at, 0.99)} ms p50/p99" if at else ""
                print(
                    f"  {label:22} {engine:6} {kind:12} {line:6} {_pct(len(at), len(chosen)):20} "
                    f"({want}){when}"
                )


Classifier = Callable[[bytes], bool]  # one 20 ms slin frame: speech or not


def _webrtc() -> Classifier:
    vad = webrtcvad.Vad(PROFILE.aggressiveness)
    return lambda frame: bool(vad.is_speech(frame, 8000))


def _silero() -> Classifier:
    vad = SileroFrameClassifier(8000, 0.5)
    return lambda frame: vad.is_speech(frame, 8000)


def _lag(case: Case, pcm: bytes, make: Callable[[], Classifier]) -> int:
    """From the true end of speech to the first frame of a `_LAG_RUN_MS` non-speech run."""
    is_speech = make()
    flags = [is_speech(pcm[i : i + 320]) for i in range(0, len(pcm) - 319, 320)]
    run = _LAG_RUN_MS // FRAME_MS
    end = case.speech_end_ms // FRAME_MS
    k = end
    while k < len(flags) and any(flags[k : k + run]):
        k += 1
    return (k - end) * FRAME_MS


def _gated_lag(case: Case, pcm: bytes) -> int:
    """The same through media's detector: where its `SpeechEnded` dates the end."""
    vad = Vad(8000, PROFILE, end_rule=lambda ms: ms >= _LAG_RUN_MS)
    ends = []
    for i in range(0, len(pcm) - 319, 320):
        event = vad.process(pcm[i : i + 320])
        if isinstance(event, SpeechEnded):
            ends.append(event.at_ms)
    # An end dated inside the last word's tail still counts (negative lag).
    after = [t for t in ends if t >= case.speech_end_ms - 200]
    return (after[0] if after else len(pcm) // 16) - case.speech_end_ms


def lag_table(cases: list[Case], cache: Path) -> None:
    print(f"VAD decision lag after the last word (to a {_LAG_RUN_MS} ms silence), p50 / p90:")
    engines: dict[str, Callable[[Case, bytes], int]] = {
        f"webrtcvad mode {PROFILE.aggressiveness} alone": lambda c, p: _lag(c, p, _webrtc),
        "silero 0.5 alone": lambda c, p: _lag(c, p, _silero),
        "webrtcvad + media's noise-floor gate": _gated_lag,
    }
    turns = [c for c in cases if c.kind == "turn"]
    for label, measure in engines.items():
        for noisy in (False, True):
            lags = [measure(c, load_pcm(cache, c)) for c in turns if c.noisy is noisy]
            line = "noisy" if noisy else "clean"
            print(f"  {label:38} {line:6} {_p(lags, 0.5):5d} ms {_p(lags, 0.9):6d} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--stt-lag-ms", type=int, default=150)
    parser.add_argument("--only", choices=("lag", "policies", "barge-in"))
    parser.add_argument(
        "--words",
        choices=("labels", "recognizer"),
        default="labels",
        help="the set's labels, or PocketSphinx's partials (run bench.turn_stt first)",
    )
    args = parser.parse_args()
    cases = build(args.cache)
    if args.only in (None, "lag"):
        lag_table(cases, args.cache)
    if args.only in (None, "policies"):
        if args.words == "recognizer":
            timelines = load_timelines(args.cache)
            words, source = recognized(timelines), "PocketSphinx partials (bench.turn_stt)"
            turns = [c for c in cases if c.kind == "turn"]
            for noisy in (False, True):
                errors, total = wer([c for c in turns if c.noisy is noisy], timelines)
                print(f"recognizer WER {'noisy' if noisy else 'clean'}: {_pct(errors, total)}")
        else:
            words, source = labels(args.stt_lag_ms), f"labels {args.stt_lag_ms} ms after phrases"
        policies_table(cases, args.cache, words, source)
    if args.only in (None, "barge-in"):
        barge_in_table(cases, args.cache, args.stt_lag_ms)


if __name__ == "__main__":
    main()
