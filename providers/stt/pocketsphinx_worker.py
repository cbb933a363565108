"""PocketSphinx in a local worker: one decoder per session, streaming as audio arrives.

Decoders are kept idle between sessions (creating one loads the acoustic model, ~0.4 s) and
one is made when the worker starts, so a call's first audio never waits for a model load.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pocketsphinx import Decoder

from providers.local.handler import Handler, Item, Session

_BYTES_PER_SECOND = 16000 * 2

# Idle decoders kept per worker for the next sessions: a decoder is some 25 MB.
IDLE_DECODERS_MAX = 8

# Beyond this, the final comes from the streaming pass instead of a re-decode, so a long
# monologue never costs seconds of decoding before the agent answers.
MAX_REDECODE_SECONDS = 15.0

DecoderKey = tuple[str, float]


class PocketsphinxHandler(Handler):
    """Opens recognizer sessions; options are `PocketsphinxOptions` with cmninit resolved."""

    def __init__(self) -> None:
        self._idle: dict[DecoderKey, list[Any]] = {}

    def load(self) -> None:
        from providers.stt.pocketsphinx import TELEPHONE_CMNINIT, PocketsphinxOptions

        key = (TELEPHONE_CMNINIT, PocketsphinxOptions().beam)
        self.give(key, self._new_decoder(key))

    def open(self, options: dict[str, Any]) -> Session:
        key = (str(options["cmninit"]), float(options["beam"]))
        idle = self._idle.get(key)
        if idle:
            decoder = idle.pop()
            decoder.set_cmn(key[0])  # forget the last caller's line
        else:
            decoder = self._new_decoder(key)
        return PocketsphinxSession(self, key, decoder, options)

    def give(self, key: DecoderKey, decoder: Any) -> None:
        if sum(len(v) for v in self._idle.values()) < IDLE_DECODERS_MAX:
            self._idle.setdefault(key, []).append(decoder)

    @staticmethod
    def _new_decoder(key: DecoderKey) -> Any:
        cmninit, beam = key
        return Decoder(cmninit=cmninit, beam=beam, loglevel="FATAL")


class PocketsphinxSession(Session):
    """One call's recognizer stream. Ops: `feed` (PCM16 16 kHz; item: a new partial) and
    `end` (item: the utterance's final text, empty when nothing was heard)."""

    def __init__(
        self, handler: PocketsphinxHandler, key: DecoderKey, decoder: Any, options: dict[str, Any]
    ) -> None:
        self._handler = handler
        self._key = key
        self._decoder = decoder
        self._partials = bool(options["partials"])
        self._redecode_first = int(options["redecode_first"])
        self._in_utterance = False
        self._utterance = bytearray()
        self._last_partial = ""
        self._utterances = 0

    def handle(self, op: str, data: bytes, args: dict[str, Any]) -> Iterator[Item]:
        if op == "feed":
            partial = self._feed(data)
            if partial:
                yield Item(text=partial)
        elif op == "end":
            yield Item(text=self._finalize())
        else:
            raise ValueError(f"unknown operation {op!r}")

    def _feed(self, pcm: bytes) -> str:
        decoder = self._decoder
        if not self._in_utterance:
            decoder.start_utt()
            self._in_utterance = True
        if self._redecode_first > self._utterances:
            self._utterance += pcm
        decoder.process_raw(pcm, False, False)
        if not self._partials:
            return ""
        text = _hypothesis_text(decoder)
        if text == self._last_partial:
            return ""
        self._last_partial = text
        return text

    def _finalize(self) -> str:
        decoder = self._decoder
        if not self._in_utterance:
            return ""
        decoder.end_utt()
        text = _hypothesis_text(decoder)
        self._utterances += 1
        utterance = bytes(self._utterance)
        if utterance and len(utterance) <= MAX_REDECODE_SECONDS * _BYTES_PER_SECOND:
            # The cepstral mean over the utterance itself, before the live mean has adapted.
            decoder.start_utt()
            decoder.process_raw(utterance, False, True)
            decoder.end_utt()
            text = _hypothesis_text(decoder) or text
        self._utterance.clear()
        self._in_utterance = False
        self._last_partial = ""
        return text

    def close(self) -> None:
        if self._in_utterance:
            self._decoder.end_utt()
        self._handler.give(self._key, self._decoder)


def _hypothesis_text(decoder: Any) -> str:
    hypothesis = decoder.hyp()
    return str(hypothesis.hypstr) if hypothesis is not None else ""
