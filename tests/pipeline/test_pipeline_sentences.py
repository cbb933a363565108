"""Sentence splitting of streamed LLM text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.sentences import LONG_RUN_CHARS, SentenceSplitter


def split(text: str, chunk: int = 3) -> list[str]:
    splitter = SentenceSplitter()
    out: list[str] = []
    for i in range(0, len(text), chunk):
        out += splitter.push(text[i : i + chunk])
    return out + splitter.flush()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello there. How are you? Great!", ["Hello there.", "How are you?", "Great!"]),
        ("Dr. Smith will see you. Bye.", ["Dr. Smith will see you.", "Bye."]),
        ("It costs 3.50 dollars. Okay?", ["It costs 3.50 dollars.", "Okay?"]),
        ("Come at 10.30 tomorrow. Thanks.", ["Come at 10.30 tomorrow.", "Thanks."]),
        ("Meet at 9:45 a.m. sharp. See you.", ["Meet at 9:45 a.m. sharp.", "See you."]),
        (
            "Write to john.doe@example.com today. Or call.",
            ["Write to john.doe@example.com today.", "Or call."],
        ),
        (
            "Visit https://vocals.example.org/docs?x=1.2 now. Done.",
            ["Visit https://vocals.example.org/docs?x=1.2 now.", "Done."],
        ),
        ("Well... let me check. Hmm... No.", ["Well... let me check.", "Hmm...", "No."]),
        ("Wait… really? Yes.", ["Wait… really?", "Yes."]),
        ("Ask J. Smith, e.g. tomorrow. Bye.", ["Ask J. Smith, e.g. tomorrow.", "Bye."]),
        ('He said "stop." Then left.', ['He said "stop."', "Then left."]),
        ("你好。今天怎么样？很好！", ["你好。", "今天怎么样？", "很好！"]),
        ("Really?! Yes.", ["Really?!", "Yes."]),
        ("هل أنت بخير؟ نعم.", ["هل أنت بخير؟", "نعم."]),
        ("no terminator at all", ["no terminator at all"]),
        ("", []),
    ],
)
def test_splits_at_sentence_ends_only(text: str, expected: list[str]) -> None:
    assert split(text) == expected
    assert split(text, chunk=1) == expected
    assert split(text, chunk=1000) == expected


def test_sentence_is_released_as_soon_as_the_next_one_starts() -> None:
    splitter = SentenceSplitter()
    assert splitter.push("Sure.") == []  # could still be "Sure.com" or "Sure..."
    assert splitter.push(" I") == ["Sure."]
    assert splitter.push(" can help") == []
    assert splitter.flush() == ["I can help"]


def test_cjk_terminator_needs_no_space() -> None:
    splitter = SentenceSplitter()
    assert splitter.push("好的。我") == ["好的。"]


def test_long_run_is_flushed_at_a_comma() -> None:
    head = "so what we can do for you today, " * 3
    text = head + "and then " * 20
    out = split(text, chunk=5)
    assert len(out) >= 2
    assert out[0].endswith(",")
    assert all(len(s) <= LONG_RUN_CHARS + 10 for s in out[:-1])
    assert " ".join(out).split() == text.split()


def test_long_run_without_commas_is_cut_at_a_space_never_inside_a_word() -> None:
    text = "word " * 60
    out = split(text, chunk=7)
    assert len(out) >= 2
    assert all(w == "word" for s in out for w in s.split())


@given(st.text(alphabet="ab1 .,?!…。\n", max_size=200), st.integers(1, 12))
def test_no_word_is_lost_or_reordered(text: str, chunk: int) -> None:
    out = split(text, chunk)
    assert [c for c in "".join(out) if c.isalnum()] == [c for c in text if c.isalnum()]
    assert all(any(c.isalnum() for c in sentence) for sentence in out)
