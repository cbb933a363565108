"""A trigram language model of the phrases an agent expects to hear (blended with the
recognizer's general model by `providers.stt.full_blend`).

The model is estimated with absolute discounting, its back-off weights computed so each
context's probabilities sum to one.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable

# Subtracted from every seen n-gram count and given to the back-off: with so little text,
# about half a count is what Kneser and Ney found to work best for small counts.
DISCOUNT = 0.5
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")

Ngram = tuple[str, ...]


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


class PhraseModel:
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


def agent_model(corpus: list[list[str]]) -> PhraseModel:
    """The back-off trigram model of `corpus` (sentences of words)."""
    counts = _counts(corpus)
    model = PhraseModel()
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
