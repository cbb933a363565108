"""An agent's phrase model interpolated with every n-gram of the general model.

Each n-gram of either model gets `weight * agent + (1 - weight) * general` (each model backing
off where it lacks the n-gram), and back-off weights are recomputed so every context's
probabilities still sum to one: the general model's 2 million word pairs and 1.7 million
triples are all kept, so a caller saying what the agent does not expect is heard as the
general model alone would hear them, only a little less sure. Done with arrays: the general
model is too large for Python loops.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from providers.stt.phrase_lm import agent_model
from providers.stt.trie_lm import Floats, Ints, TrigramModel

Bools = npt.NDArray[np.bool_]

# log10 probability language models use for "never" (the sentence start is never predicted).
_NEVER = -99.0
# Floor of a context's left-over mass, so a context whose n-grams take it all keeps a
# back-off weight instead of dividing by zero.
_FLOOR = 1e-9


class _Lookup:
    """Probabilities of explicit n-grams, found by their packed ids; `default` elsewhere."""

    def __init__(self, keys: Ints, values: Floats, ordered: bool = False) -> None:
        order = slice(None) if ordered else np.argsort(keys)
        self.keys = keys[order]
        self.values = values[order]

    def union(self, other: _Lookup) -> Ints:
        """The keys of both, ascending (`np.union1d` hashes, ten times slower here)."""
        _, found = self.find(other.keys)
        return np.sort(np.concatenate([self.keys, other.keys[~found]]), kind="stable")

    def find(self, keys: Ints) -> tuple[Ints, Bools]:
        at = np.clip(np.searchsorted(self.keys, keys), 0, max(len(self.keys) - 1, 0))
        found = self.keys[at] == keys if len(self.keys) else np.zeros(len(keys), dtype=bool)
        return at, found

    def get(self, keys: Ints, default: Floats | float) -> Floats:
        if not len(self.keys):
            return np.broadcast_to(np.asarray(default, dtype=np.float64), keys.shape).copy()
        at, found = self.find(keys)
        return np.where(found, self.values[at], default)


def _packed(size: int, *gram: Ints) -> Ints:
    """N-grams as one id each, last word first: the general model's own order (see
    `TrigramModel`), so its n-grams need no sorting."""
    key = gram[-1]
    for word in reversed(gram[:-1]):
        key = key * size + word
    return key


class _Backoff:
    """A back-off trigram model over `size` word ids, in probabilities (not logs)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.unigram = np.zeros(size)
        self.unigram_backoff = np.ones(size)
        self.bigram = _Lookup(np.zeros(0, np.int64), np.zeros(0))
        self.bigram_backoff = _Lookup(np.zeros(0, np.int64), np.zeros(0))
        self.trigram = _Lookup(np.zeros(0, np.int64), np.zeros(0))

    def p2(self, first: Ints, second: Ints) -> Floats:
        backed_off = self.unigram_backoff[first] * self.unigram[second]
        return self.bigram.get(_packed(self.size, first, second), backed_off)

    def p3(self, first: Ints, second: Ints, third: Ints) -> Floats:
        context = _packed(self.size, first, second)
        backed_off = self.bigram_backoff.get(context, 1.0) * self.p2(second, third)
        return self.trigram.get(_packed(self.size, first, second, third), backed_off)


def _general(model: TrigramModel, size: int) -> _Backoff:
    general = _Backoff(size)
    n = len(model.words)
    general.unigram[:n] = 10**model.unigram_prob
    general.unigram_backoff[:n] = 10**model.unigram_backoff
    pairs = _packed(size, model.bigram_first, model.bigram_second)
    general.bigram = _Lookup(pairs, 10**model.bigram_prob, ordered=True)
    general.bigram_backoff = _Lookup(pairs, 10**model.bigram_backoff, ordered=True)
    triples = _packed(size, model.trigram_first, model.trigram_second, model.trigram_third)
    general.trigram = _Lookup(triples, 10**model.trigram_prob, ordered=True)
    return general


def _agent(corpus: list[list[str]], ids: dict[str, int], size: int) -> _Backoff:
    model = agent_model(corpus)
    agent = _Backoff(size)
    for (word,), p in model.prob[0].items():
        agent.unigram[ids[word]] = p
    for (word,), bo in model.backoff[0].items():
        agent.unigram_backoff[ids[word]] = bo

    def keys(grams: list[tuple[str, ...]]) -> Ints:
        columns = zip(*grams, strict=True) if grams else [[]] * 2
        return _packed(size, *(np.array([ids[w] for w in c], dtype=np.int64) for c in columns))

    for order, lookup in ((1, "bigram"), (2, "trigram")):
        grams = list(model.prob[order])
        values = np.array([model.prob[order][g] for g in grams], dtype=np.float64)
        setattr(agent, lookup, _Lookup(keys(grams), values))
    contexts = list(model.backoff[1])
    backoffs = np.array([model.backoff[1][c] for c in contexts], dtype=np.float64)
    agent.bigram_backoff = _Lookup(keys(contexts), backoffs)
    return agent


def _log(p: Floats) -> Floats:
    return np.where(p > 0, np.log10(np.maximum(p, 1e-300)), _NEVER)


def full_blend(corpus: list[list[str]], general_model: TrigramModel, weight: float) -> TrigramModel:
    """The `corpus` model interpolated with all of `general_model`."""
    words = list(general_model.words)
    ids = {word: i for i, word in enumerate(words)}
    for word in sorted({w for sentence in corpus for w in sentence} - ids.keys()):
        ids[word] = len(words)
        words.append(word)
    size = len(words)
    general = _general(general_model, size)
    agent = _agent(corpus, ids, size)

    unigram = weight * agent.unigram + (1 - weight) * general.unigram
    pairs = general.bigram.union(agent.bigram)
    second, first = pairs // size, pairs % size
    bigram = weight * agent.p2(first, second) + (1 - weight) * general.p2(first, second)
    left = 1 - np.bincount(first, weights=bigram, minlength=size)
    lower = 1 - np.bincount(first, weights=unigram[second], minlength=size)
    unigram_backoff = np.maximum(left, _FLOOR) / np.maximum(lower, _FLOOR)

    triples = general.trigram.union(agent.trigram)
    suffix, t_first = triples // size, triples % size
    third, t_second = suffix // size, suffix % size
    trigram = weight * agent.p3(t_first, t_second, third) + (1 - weight) * general.p3(
        t_first, t_second, third
    )
    blend = _Lookup(pairs, bigram, ordered=True)
    lower_trigram = blend.get(suffix, unigram_backoff[t_second] * unigram[third])
    # A context missing from the bigrams (sphinx backs off past it) keeps no back-off weight.
    at, found = blend.find(_packed(size, t_first, t_second))
    at = at[found]
    bigram_backoff = np.ones(len(pairs))
    has_trigrams = np.bincount(at, minlength=len(pairs)) > 0
    left = 1 - np.bincount(at, weights=trigram[found], minlength=len(pairs))
    lower = 1 - np.bincount(at, weights=lower_trigram[found], minlength=len(pairs))
    ratio = np.maximum(left, _FLOOR) / np.maximum(lower, _FLOOR)
    bigram_backoff[has_trigrams] = ratio[has_trigrams]

    unigram_log = _log(unigram)
    unigram_log[ids["<s>"]] = _NEVER
    return TrigramModel(
        words=words,
        unigram_prob=unigram_log,
        unigram_backoff=_log(unigram_backoff),
        bigram_first=first,
        bigram_second=second,
        bigram_prob=_log(bigram),
        bigram_backoff=_log(bigram_backoff),
        trigram_first=t_first,
        trigram_second=t_second,
        trigram_third=third,
        trigram_prob=_log(trigram),
    )
