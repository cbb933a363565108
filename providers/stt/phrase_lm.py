"""A trigram language model (ARPA text) of the phrases an agent expects to hear, blended with
the recognizer's general model.

The agent's model is estimated with absolute discounting; every n-gram it has gets the
linear interpolation `weight * agent + (1 - weight) * general`, the general model's most
likely words and its strongest word pairs among them are kept too, and back-off weights are
recomputed so each context's probabilities still sum to one. Callers saying what the agent
expects are heard with the agent's word order; anything else still has the general
vocabulary and its commonest word pairs.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping

# Subtracted from every seen n-gram count and given to the back-off: with so little text,
# about half a count is what Kneser and Ney found to work best for small counts.
DISCOUNT = 0.5
# log10 probability ARPA uses for "never" (the sentence-start token is never predicted).
_NEVER = -99.0
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")

Ngram = tuple[str, ...]
# P(word | history) of the general model, for an n-gram given in reading order.
GeneralProbability = Callable[[Ngram], float]


def sentences(phrases: Iterable[str], known: Callable[[str], bool]) -> list[list[str]]:
    """Each phrase as lower-case words, split where a word is not in the recognizer's
    dictionary (it could never be recognized, and its neighbours are not a sequence)."""
    out: list[list[str]] = []
    for phrase in phrases:
        run: list[str] = []
        for word in _WORD.findall(phrase.lower()):
            if known(word):
                run.append(word)
            elif run:
                out.append(run)
                run = []
        if run:
            out.append(run)
    return out


class _Model:
    """A back-off n-gram model: probabilities of its n-grams and back-off weights of contexts."""

    def __init__(self) -> None:
        self.prob: list[dict[Ngram, float]] = [{}, {}, {}]
        self.backoff: list[dict[Ngram, float]] = [{}, {}, {}]

    def p(self, gram: Ngram) -> float:
        """P(last word | the rest), backing off where the n-gram is not in the model."""
        order = len(gram)
        if gram in self.prob[order - 1]:
            return self.prob[order - 1][gram]
        if order == 1:
            return 0.0
        return self.backoff[order - 2].get(gram[:-1], 1.0) * self.p(gram[1:])

    def set_backoffs(self, order: int) -> None:
        """Back-off weights of order-`order` contexts, from their explicit n-grams."""
        followers: dict[Ngram, list[Ngram]] = defaultdict(list)
        for gram in self.prob[order]:
            followers[gram[:-1]].append(gram)
        for history, grams in followers.items():
            left = 1.0 - sum(self.prob[order][g] for g in grams)
            lower = 1.0 - sum(self.p(g[1:]) for g in grams)
            self.backoff[order - 1][history] = max(left, 1e-9) / max(lower, 1e-9)


def _counts(corpus: list[list[str]]) -> list[Counter[Ngram]]:
    counts: list[Counter[Ngram]] = [Counter(), Counter(), Counter()]
    for sentence in corpus:
        tokens = ["<s>", *sentence, "</s>"]
        for order in range(1, 4):
            for i in range(len(tokens) - order + 1):
                counts[order - 1][tuple(tokens[i : i + order])] += 1
    counts[0].pop(("<s>",), None)
    return counts


def _agent_model(corpus: list[list[str]]) -> _Model:
    counts = _counts(corpus)
    model = _Model()
    total = sum(counts[0].values())
    model.prob[0] = {gram: c / total for gram, c in counts[0].items()}
    for order in (1, 2):
        seen: Counter[Ngram] = Counter()
        for gram, c in counts[order].items():
            seen[gram[:-1]] += c
        for gram, c in counts[order].items():
            model.prob[order][gram] = (c - DISCOUNT) / seen[gram[:-1]]
        model.set_backoffs(order)
    return model


def blended_arpa(
    corpus: list[list[str]],
    general: GeneralProbability,
    general_ngrams: Mapping[Ngram, float],
    weight: float,
) -> str:
    """ARPA text of the agent's `corpus` model interpolated with the general model: the
    n-grams of both (`general_ngrams`: the general model's most useful unigrams and bigrams),
    each with the interpolated probability."""
    agent = _agent_model(corpus)
    blend = _Model()
    for order in (0, 1, 2):
        grams = set(agent.prob[order]) | {g for g in general_ngrams if len(g) == order + 1}
        for gram in grams:
            general_p = general_ngrams.get(gram) or general(gram)
            blend.prob[order][gram] = weight * agent.p(gram) + (1 - weight) * general_p
        if order:
            blend.set_backoffs(order)
    return _arpa_text(blend)


def _arpa_text(model: _Model) -> str:
    sizes = [len(model.prob[0]) + 1, len(model.prob[1]), len(model.prob[2])]
    lines = ["\\data\\", *(f"ngram {n}={size}" for n, size in enumerate(sizes, 1))]
    for n in (1, 2, 3):
        lines += ["", f"\\{n}-grams:"]
        if n == 1:
            lines.append(f"{_NEVER:.4f} <s> {_log(model.backoff[0].get(('<s>',), 1.0)):.4f}")
        for gram, p in sorted(model.prob[n - 1].items()):
            entry = f"{_log(p):.4f} {' '.join(gram)}"
            if n < 3:
                entry += f" {_log(model.backoff[n - 1].get(gram, 1.0)):.4f}"
            lines.append(entry)
    lines += ["", "\\end\\", ""]
    return "\n".join(lines)


def _log(p: float) -> float:
    return math.log10(p) if p > 0 else _NEVER
