"""PocketSphinx in a local worker: one decoder per session, streaming as audio arrives.

Decoders are kept idle between sessions (creating one loads the acoustic model, ~0.4 s) and
one is made when the worker starts, so a call's first audio never waits for a model load.
An agent with phrases gets its own model, the phrases blended with all of the general model;
the blend is built on a thread once per machine (`providers.stt.blend_store`) while the
agent's first calls search the general model, and then takes about 35 MB per worker, and
32 MB per decoder searching it, where the general model's search takes as much.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
from pocketsphinx import Decoder, NGramModel, get_model_path

from providers.local.handler import Handler, Item, Session
from providers.stt.blend_store import BlendStore
from providers.stt.phrase_lm import sentences

_BYTES_PER_SECOND = 16000 * 2

# Idle decoders kept per worker for the next sessions: a decoder is some 30 MB, and each
# model it has searched (the general one, an agent's blend) another 32 MB.
IDLE_DECODERS_MAX = 8

# Beyond this, the final comes from the streaming pass instead of a re-decode, so a long
# monologue never costs seconds of decoding before the agent answers.
MAX_REDECODE_SECONDS = 15.0

_GENERAL_LM = "en-us/en-us.lm.bin"
_GENERAL_SEARCH = "general"

DecoderKey = tuple[str, float, bool, int]


def _general_path() -> Path:
    return Path(get_model_path(_GENERAL_LM))


class _Search(msgspec.Struct, frozen=True):
    """The model a session searches: its name in the decoder, and the blend it waits for
    (the general model is searched meanwhile), if any."""

    name: str
    pending: str | None = None


class PocketsphinxHandler(Handler):
    """Opens recognizer sessions; options are `PocketsphinxOptions` with cmninit resolved.

    Decoders are made without a language model (the acoustic model and dictionary, some
    27 MB) and given a search per model they are used with: each model is loaded once and
    shared, where a decoder loading its own took 91 MB.
    """

    def __init__(self) -> None:
        self._idle: dict[DecoderKey, list[Any]] = {}
        self._general: Any = None
        self._agent_lms: dict[str, Any] = {}
        self._blends: BlendStore | None = None

    def load(self) -> None:
        from providers.stt.pocketsphinx import TELEPHONE_CMNINIT, PocketsphinxOptions

        self._blends = BlendStore(_general_path(), self.cache_dir)
        defaults = PocketsphinxOptions()
        key = (TELEPHONE_CMNINIT, defaults.beam, defaults.second_pass, defaults.max_hmms)
        decoder = self._new_decoder(key)
        self._activate(decoder, [], defaults.phrase_weight)
        self.give(key, decoder)

    @property
    def blends(self) -> BlendStore:
        assert self._blends is not None, "load() first"
        return self._blends

    def open(self, options: dict[str, Any]) -> Session:
        key = (
            str(options["cmninit"]),
            float(options["beam"]),
            bool(options["second_pass"]),
            int(options["max_hmms"]),
        )
        idle = self._idle.get(key)
        if idle:
            decoder = idle.pop()
            decoder.set_cmn(key[0])  # forget the last caller's line
        else:
            decoder = self._new_decoder(key)
        search = self._activate(
            decoder, list(options.get("phrases") or ()), float(options["phrase_weight"])
        )
        return PocketsphinxSession(self, key, decoder, options, search)

    def _general_model(self, decoder: Any) -> Any:
        if self._general is None:
            self._general = NGramModel(decoder.config, decoder.logmath, str(_general_path()))
        return self._general

    def _activate(self, decoder: Any, phrases: list[str], weight: float) -> _Search:
        """Search with the blend of `phrases`' model (its share: `weight`) and the general
        one (general alone when there are none, or until the blend is built); each decoder
        builds a model's search once."""
        if phrases:
            key = "\n".join([repr(weight), *phrases])
            name = "agent-" + hashlib.sha256(key.encode()).hexdigest()[:16]
            if self.switch(decoder, name):
                return _Search(name)
            corpus = sentences(phrases, lambda word: decoder.lookup_word(word) is not None)
            if corpus:  # else no word the recognizer knows: nothing to blend
                self.blends.build(name, corpus, weight)
                self._general_search(decoder)
                return _Search(_GENERAL_SEARCH, pending=name)
        self._general_search(decoder)
        return _Search(_GENERAL_SEARCH)

    def _general_search(self, decoder: Any) -> None:
        if decoder.get_lm(_GENERAL_SEARCH) is None:
            decoder.add_lm(_GENERAL_SEARCH, self._general_model(decoder))
        decoder.activate_search(_GENERAL_SEARCH)

    def switch(self, decoder: Any, name: str) -> bool:
        """Search blend `name` if it is built (loading it on first use here); False if not."""
        lm = self._agent_lms.get(name)
        if lm is None:
            path = self.blends.path(name)
            if path is None:
                return False
            try:
                lm = NGramModel(decoder.config, decoder.logmath, str(path))
            except (OSError, RuntimeError, ValueError):  # evicted between the look and the load
                return False
            self.blends.used(path)
            self._agent_lms[name] = lm
        if decoder.get_lm(name) is None:
            decoder.add_lm(name, lm)
        decoder.activate_search(name)
        return True

    def give(self, key: DecoderKey, decoder: Any) -> None:
        if sum(len(v) for v in self._idle.values()) < IDLE_DECODERS_MAX:
            self._idle.setdefault(key, []).append(decoder)

    @staticmethod
    def _new_decoder(key: DecoderKey) -> Any:
        cmninit, beam, second_pass, max_hmms = key
        return Decoder(
            cmninit=cmninit,
            beam=beam,
            fwdflat=second_pass,
            maxhmmpf=max_hmms,
            lm=None,
            loglevel="FATAL",
        )


class PocketsphinxSession(Session):
    """One call's recognizer stream. Ops: `feed` (PCM16 16 kHz; item: a new partial), `end`
    (item: the utterance's final text, empty when nothing was heard) and `model` (item: the
    name of the model searched, empty while the agent's blend is being built)."""

    def __init__(
        self,
        handler: PocketsphinxHandler,
        key: DecoderKey,
        decoder: Any,
        options: dict[str, Any],
        search: _Search,
    ) -> None:
        self._handler = handler
        self._key = key
        self._decoder = decoder
        self.search = search
        self._partials = bool(options["partials"])
        self._redecode_first = int(options["redecode_first"])
        self._in_utterance = False
        # The utterance's audio, kept for a second decoding when it ends: asked for
        # (`redecode_first`), or heard on the general model while the agent's was being built.
        self._utterance = bytearray()
        self._keep_audio = False
        self._last_partial = ""
        self._utterances = 0

    def handle(self, op: str, data: bytes, args: dict[str, Any]) -> Iterator[Item]:
        if op == "feed":
            partial = self._feed(data)
            if partial:
                yield Item(text=partial)
        elif op == "end":
            yield Item(text=self._finalize())
        elif op == "model":
            if not self._in_utterance:
                self._take_blend()
            yield Item(text="" if self.search.pending is not None else self.search.name)
        else:
            raise ValueError(f"unknown operation {op!r}")

    def _feed(self, pcm: bytes) -> str:
        decoder = self._decoder
        if not self._in_utterance:
            self._take_blend()
            decoder.start_utt()
            self._in_utterance = True
            self._keep_audio = (
                self._redecode_first > self._utterances or self.search.pending is not None
            )
        if self._keep_audio:
            self._utterance += pcm
        decoder.process_raw(pcm, False, False)
        if not self._partials:
            return ""
        text = _hypothesis_text(decoder)
        if text == self._last_partial:
            return ""
        self._last_partial = text
        return text

    def _take_blend(self) -> None:
        """Search the agent's blend from now on if it has been built (between utterances)."""
        pending = self.search.pending
        if pending is None:
            return
        if self._handler.switch(self._decoder, pending):
            self.search = _Search(pending)
        elif self._handler.blends.failed(pending):
            self.search = _Search(self.search.name)

    def _finalize(self) -> str:
        decoder = self._decoder
        if not self._in_utterance:
            return ""
        decoder.end_utt()
        text = _hypothesis_text(decoder)
        redecode = self._redecode_first > self._utterances
        self._utterances += 1
        pending = self.search.pending
        if pending is not None:
            self._take_blend()
            # Built while the caller spoke: their first words are heard with it after all.
            redecode = redecode or self.search.name == pending
        utterance = bytes(self._utterance)
        if redecode and utterance and len(utterance) <= MAX_REDECODE_SECONDS * _BYTES_PER_SECOND:
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
