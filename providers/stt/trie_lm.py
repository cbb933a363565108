"""Every n-gram of a trigram model in sphinx's binary trie format (`en-us.lm.bin`), read into
arrays: the Python binding can only query it word by word, and its ARPA writer crashes.

The layout is the one pocketsphinx 5 writes (`lm_trie.c`, `lm_trie_quant.c`): a header, the
order and counts, the quantization tables, the unigrams as (prob, backoff, first bigram)
records, then bit-packed bigrams (word, backoff code, prob code, first trigram) and trigrams
(word, prob code), stored backwards (each unigram's run holds the words before it); then the
words, NUL-separated.
Probabilities are in sphinx's log base (1.0001), read here as log10.
"""

from __future__ import annotations

import math
from pathlib import Path

import msgspec
import numpy as np
import numpy.typing as npt

_HEADER = b"Trie Language Model"
# Quantization: 16-bit codes into tables of 65 536 values (bigram prob, bigram backoff,
# trigram prob), a middle entry's codes taking 32 bits, a trigram's 16.
_CODE_BITS = 16
_TABLE = 1 << _CODE_BITS
_UNIGRAM = np.dtype([("prob", "<f4"), ("bo", "<f4"), ("next", "<u4")])
# Sphinx's log base is 1.0001: one of its units is this many log10 units.
_TO_LOG10 = math.log10(1.0001)

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


class TrigramModel(msgspec.Struct, frozen=True):
    """A back-off trigram model as arrays, log10 throughout: bigram `i` is the words
    (`bigram_first[i]`, `bigram_second[i]`), trigram `j` (`trigram_first[j]`, ...). The
    n-grams are in the trie's order: by last word, then the word before it, and so on."""

    words: list[str]
    unigram_prob: Floats
    unigram_backoff: Floats
    bigram_first: Ints
    bigram_second: Ints
    bigram_prob: Floats
    bigram_backoff: Floats
    trigram_first: Ints
    trigram_second: Ints
    trigram_third: Ints
    trigram_prob: Floats


def _bits(maximum: int) -> int:
    """Bits sphinx gives a field holding values up to `maximum`."""
    return int(maximum).bit_length()


def _field(memory: npt.NDArray[np.uint8], offsets: Ints, width: int) -> Ints:
    """The `width`-bit little-endian fields starting at each bit offset."""
    start = offsets >> 3
    value = np.zeros(len(offsets), dtype=np.uint64)
    for byte in range(5):  # a field of at most 25 bits at a shift of at most 7
        value |= memory[start + byte].astype(np.uint64) << np.uint64(8 * byte)
    shifted = value >> (offsets & 7).astype(np.uint64)
    return (shifted & np.uint64((1 << width) - 1)).astype(np.int64)


def _size(entries: int, total_bits: int) -> int:
    """Bytes of a bit-packed array, with sphinx's extra entry and its 8 bytes of slack."""
    return ((1 + entries) * total_bits + 7) // 8 + 8


def read_trigram_model(path: Path) -> TrigramModel:
    """All n-grams of the trie model at `path` (a trigram model, as sphinx's en-us is)."""
    raw = path.read_bytes()
    if not raw.startswith(_HEADER) or raw[len(_HEADER)] != 3:
        raise ValueError(f"{path} is not a trigram model in sphinx's trie format")
    at = len(_HEADER) + 1
    n1, n2, n3 = (int(c) for c in np.frombuffer(raw, "<u4", 3, at))
    at += 12 + 4  # the counts, then a field that once named the quantization
    tables = np.frombuffer(raw, "<f4", 3 * _TABLE, at).astype(np.float64) * _TO_LOG10
    bigram_prob_table = tables[:_TABLE]
    bigram_backoff_table = tables[_TABLE : 2 * _TABLE]
    trigram_prob_table = tables[2 * _TABLE :]
    at += 3 * _TABLE * 4
    unigrams = np.frombuffer(raw, _UNIGRAM, n1 + 1, at)
    at += (n1 + 1) * _UNIGRAM.itemsize

    word_bits = _bits(n1)
    next_bits = _bits(n3)
    middle_bits = word_bits + 2 * _CODE_BITS + next_bits
    middle = np.frombuffer(raw, np.uint8, _size(n2, middle_bits), at)
    at += len(middle)
    longest_bits = word_bits + _CODE_BITS
    longest = np.frombuffer(raw, np.uint8, _size(n3, longest_bits), at)
    at += len(longest)

    (chars,) = np.frombuffer(raw, "<u4", 1, at)
    words = raw[at + 4 : at + 4 + int(chars)].decode("utf-8").split("\0")[:-1]
    if len(words) != n1:
        raise ValueError(f"{path}: {len(words)} words for {n1} unigrams")

    # The header's counts size the arrays; the n-grams in them end where the last unigram's
    # and the last bigram's pointers say (en-us.lm.bin has 6 bigrams fewer than counted).
    starts = unigrams["next"].astype(np.int64)
    bigrams = int(starts[-1])
    rows = np.arange(bigrams + 1, dtype=np.int64) * middle_bits
    bigram_next = _field(middle, rows + word_bits + 2 * _CODE_BITS, next_bits)
    rows = rows[:-1]
    trigram_rows = np.arange(int(bigram_next[-1]), dtype=np.int64) * longest_bits
    # The trie is read backwards: a unigram's run holds the words before it, a bigram's run
    # the words before that pair.
    bigram_second = np.repeat(np.arange(n1, dtype=np.int64), np.diff(starts))
    bigram_first = _field(middle, rows, word_bits)
    trigram_pair = np.repeat(np.arange(bigrams, dtype=np.int64), np.diff(bigram_next))
    trigram_first = _field(longest, trigram_rows, word_bits)
    # Sphinx's own en-us.lm.bin has two triples out of their run's order; a stable sort of
    # data this nearly sorted costs little.
    order = np.argsort(trigram_pair * n1 + trigram_first, kind="stable")
    trigram_pair, trigram_rows = trigram_pair[order], trigram_rows[order]
    return TrigramModel(
        words=words,
        unigram_prob=unigrams["prob"][:n1].astype(np.float64) * _TO_LOG10,
        unigram_backoff=unigrams["bo"][:n1].astype(np.float64) * _TO_LOG10,
        bigram_first=bigram_first,
        bigram_second=bigram_second,
        bigram_backoff=bigram_backoff_table[_field(middle, rows + word_bits, _CODE_BITS)],
        bigram_prob=bigram_prob_table[_field(middle, rows + word_bits + _CODE_BITS, _CODE_BITS)],
        trigram_first=trigram_first[order],
        trigram_second=bigram_first[trigram_pair],
        trigram_third=bigram_second[trigram_pair],
        trigram_prob=trigram_prob_table[_field(longest, trigram_rows + word_bits, _CODE_BITS)],
    )


def _quantized(values: Floats) -> tuple[Floats, Ints]:
    """A table of 65 536 evenly spaced values over their range and each value's code into
    it: for log probabilities spanning 10 units, steps of 0.0002."""
    low, high = (float(values.min()), float(values.max())) if len(values) else (0.0, 0.0)
    step = (high - low) / (_TABLE - 1) or 1.0
    codes = np.rint((values - low) / step).astype(np.int64)
    return low + step * np.arange(_TABLE, dtype=np.float64), codes


def _pack(memory: npt.NDArray[np.uint64], offsets: Ints, values: Ints, width: int) -> None:
    """OR each value into the little-endian bit array at its bit offset (ascending offsets
    at least `width` bits apart)."""
    # Values at least 64 bits apart never share a word, so each slice writes in one step.
    step = -(-64 // max(int(offsets[1] - offsets[0]), 1)) if len(offsets) > 1 else 1
    for start in range(step):
        at, value = offsets[start::step], values[start::step].astype(np.uint64)
        index, shift = at >> 6, (at & 63).astype(np.uint64)
        memory[index] |= value << shift
        spill = (at & 63) + width > 64
        memory[index[spill] + 1] |= value[spill] >> (np.uint64(64) - shift[spill])


def _packed(
    rows: int, total_bits: int, fields: list[tuple[int, Ints, int]], last: tuple[int, int, int]
) -> bytes:
    """`rows` bit-packed entries of `total_bits`, each field given as (bit offset, values,
    width), and one more field `last` (bit offset, value, width) after them."""
    size = _size(rows, total_bits)
    memory = np.zeros(size // 8 + 2, dtype="<u8")
    base = np.arange(rows, dtype=np.int64) * total_bits
    for offset, values, width in fields:
        _pack(memory, base + offset, values, width)
    offset, value, width = last
    _pack(memory, np.array([offset]), np.array([value]), width)
    return memory.view(np.uint8)[:size].tobytes()


def write_trigram_model(model: TrigramModel, path: Path) -> None:
    """`model` in sphinx's trie format: it loads in milliseconds, where ARPA text of millions
    of n-grams takes sphinx seconds to parse."""
    n1, n2, n3 = len(model.words), len(model.bigram_first), len(model.trigram_first)
    first, second, t_first = model.bigram_first, model.bigram_second, model.trigram_first
    pairs = second * n1 + first
    suffix = model.trigram_third * n1 + model.trigram_second
    triples = suffix * n1 + t_first
    if np.any(np.diff(pairs) <= 0) or np.any(np.diff(triples) <= 0):
        raise ValueError("n-grams must come in the trie's order, each once")
    pair = np.searchsorted(pairs, suffix)
    if n3 and not np.array_equal(pairs[np.minimum(pair, n2 - 1)], suffix):
        raise ValueError("a trigram's last two words are not among the bigrams")

    prob_table, prob_codes = _quantized(model.bigram_prob)
    backoff_table, backoff_codes = _quantized(model.bigram_backoff)
    trigram_table, trigram_codes = _quantized(model.trigram_prob)
    unigrams = np.zeros(n1 + 1, dtype=_UNIGRAM)
    unigrams["prob"][:n1] = model.unigram_prob / _TO_LOG10
    unigrams["bo"][:n1] = model.unigram_backoff / _TO_LOG10
    unigrams["next"] = np.searchsorted(second, np.arange(n1 + 1))

    word_bits, next_bits = _bits(n1), _bits(n3)
    middle_bits = word_bits + 2 * _CODE_BITS + next_bits
    middle = _packed(
        n2,
        middle_bits,
        [
            (0, first, word_bits),
            (word_bits, backoff_codes, _CODE_BITS),
            (word_bits + _CODE_BITS, prob_codes, _CODE_BITS),
            (word_bits + 2 * _CODE_BITS, np.searchsorted(pair, np.arange(n2)), next_bits),
        ],
        # The entry after the last holds where the last one's trigrams end.
        ((n2 + 1) * middle_bits - next_bits, n3, next_bits),
    )
    longest_bits = word_bits + _CODE_BITS
    longest = _packed(
        n3,
        longest_bits,
        [(0, t_first, word_bits), (word_bits, trigram_codes, _CODE_BITS)],
        (n3 * longest_bits, 0, 0),
    )
    text = b"".join(word.encode("utf-8") + b"\0" for word in model.words)
    tables = np.concatenate([prob_table, backoff_table, trigram_table]) / _TO_LOG10
    path.write_bytes(
        b"".join(
            [
                _HEADER,
                bytes([3]),
                np.array([n1, n2, n3, 1], dtype="<u4").tobytes(),
                tables.astype("<f4").tobytes(),
                unigrams.tobytes(),
                middle,
                longest,
                np.array([len(text)], dtype="<u4").tobytes(),
                text,
            ]
        )
    )
