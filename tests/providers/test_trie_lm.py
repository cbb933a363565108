"""The general model's n-grams read from sphinx's binary file, and the agent blends written in
it, as sphinx itself reads them back."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
from pocketsphinx import Decoder, NGramModel, get_model_path

from providers.stt.full_blend import full_blend
from providers.stt.trie_lm import TrigramModel, read_trigram_model, write_trigram_model

pytestmark = pytest.mark.slow

GENERAL = Path(get_model_path("en-us/en-us.lm.bin"))
# Sphinx's log base is 1.0001; its probabilities are powers of it.
LOG10_OF_BASE = math.log10(1.0001)
# Quantization to 16-bit codes moves a log10 probability by about this much at most.
QUANTIZED = 0.01
WEIGHT = 0.5
CORPUS = [
    ["what", "are", "your", "opening", "hours"],
    ["can", "i", "book", "an", "appointment", "for", "tomorrow"],
    ["book", "a", "haircut", "with", "boomhower", "tomorrow"],
]


@pytest.fixture(scope="module")
def general() -> TrigramModel:
    return read_trigram_model(GENERAL)


@pytest.fixture(scope="module")
def decoder() -> Decoder:
    return Decoder(lm=None, loglevel="FATAL")


def sphinx(decoder: Decoder, path: Path) -> NGramModel:
    return NGramModel(decoder.config, decoder.logmath, str(path))


def log10(lm: NGramModel, *gram: str) -> float:
    """log10 P(last word | the words before it), as sphinx answers it."""
    return float(lm.prob(list(reversed(gram)))) * LOG10_OF_BASE


def test_every_ngram_of_the_general_model_is_read(general: TrigramModel, decoder: Decoder) -> None:
    lm = sphinx(decoder, GENERAL)
    assert (len(general.words), len(general.bigram_first), len(general.trigram_first)) == (
        72547,
        2051541,
        1669625,
    )
    rng = random.Random(3)
    words = general.words
    for i in rng.sample(range(len(general.bigram_first)), 300):
        pair = (words[general.bigram_first[i]], words[general.bigram_second[i]])
        assert general.bigram_prob[i] == pytest.approx(log10(lm, *pair), abs=1e-3), pair
    for i in rng.sample(range(len(general.trigram_first)), 300):
        first, second = general.trigram_first[i], general.trigram_second[i]
        gram = (words[first], words[second], words[general.trigram_third[i]])
        assert general.trigram_prob[i] == pytest.approx(log10(lm, *gram), abs=1e-3), gram


def test_a_written_model_reads_back_as_sphinx_wrote_it(
    general: TrigramModel, decoder: Decoder, tmp_path: Path
) -> None:
    path = tmp_path / "copy.lm.bin"
    write_trigram_model(general, path)
    original, copy = sphinx(decoder, GENERAL), sphinx(decoder, path)
    rng = random.Random(5)
    words = general.words
    grams = [(rng.choice(words), rng.choice(words), rng.choice(words)) for _ in range(300)]
    for i in rng.sample(range(len(general.trigram_first)), 300):
        first, second = general.trigram_first[i], general.trigram_second[i]
        grams.append((words[first], words[second], words[general.trigram_third[i]]))
    for gram in grams:
        for n in (1, 2, 3):
            expected = log10(original, *gram[-n:])
            assert log10(copy, *gram[-n:]) == pytest.approx(expected, abs=QUANTIZED), gram


def test_the_blend_keeps_the_general_model_and_sums_to_one(
    general: TrigramModel, decoder: Decoder, tmp_path: Path
) -> None:
    path = tmp_path / "blend.lm.bin"
    write_trigram_model(full_blend(CORPUS, general, WEIGHT), path)
    blend, alone = sphinx(decoder, path), sphinx(decoder, GENERAL)
    # Triples the agent never says keep the general model's word order, at its share.
    for gram in (("shaka", "zulu"), ("the", "united", "states"), ("i", "need", "to")):
        expected = log10(alone, *gram) + math.log10(1 - WEIGHT)
        assert log10(blend, *gram) == pytest.approx(expected, abs=QUANTIZED), gram
    # What the agent says is likelier than the general model makes it.
    assert log10(blend, "opening", "hours") > log10(alone, "opening", "hours")
    assert log10(blend, "for", "tomorrow") > log10(alone, "for", "tomorrow")
    # A name outside the general vocabulary is in the blend's, in the agent's words.
    assert "boomhower" not in general.words
    assert log10(blend, "with", "boomhower") > math.log10(WEIGHT) - 1
    # Each context's probabilities, over the whole vocabulary, still sum to one.
    vocabulary = [*general.words, "boomhower"]
    for history in (("<s>",), ("book",), ("your",), ("an", "appointment"), ("united",)):
        total = sum(10 ** log10(blend, *history, word) for word in vocabulary if word != "<s>")
        assert total == pytest.approx(1.0, abs=0.02), history
