"""Streaming sentence splitter: cuts LLM text deltas into sentences TTS can speak at once."""

from __future__ import annotations

# A run of text with no sentence end is cut at a clause separator (or a space) once it is this
# long: about 6-7 s of speech, so the caller is not left in silence while the LLM rambles on.
LONG_RUN_CHARS = 120

# A cut for a long run never leaves a head shorter than this: tiny fragments sound choppy.
MIN_CLAUSE_CHARS = 20

# Terminators after which the next sentence starts with a space (Latin, Arabic, Devanagari, ...).
_SPACED_TERMINATORS = frozenset(".!?…؟।۔")
# CJK terminators: the next sentence follows without a space.
_UNSPACED_TERMINATORS = frozenset("。！？")
_TERMINATORS = _SPACED_TERMINATORS | _UNSPACED_TERMINATORS
# Closing quotes and brackets belong to the sentence they end.
_CLOSERS = frozenset("\"')]}»”’」』）")
_CLAUSE_SEPARATORS = ",;:、，；："
_OPENERS = "\"'([{«“‘"

# Tokens that end in a period without ending the sentence (compared lower-case, without the
# final period).
ABBREVIATIONS = frozenset(
    {
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "ft", "vs", "etc", "e.g", "i.e",
        "approx", "apt", "dept", "est", "inc", "ltd", "co", "corp", "no", "nr", "tel", "ext",
        "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
        "mon", "tue", "wed", "thu", "fri", "sat", "sun", "a.m", "p.m", "u.s", "u.k", "min",
        "max", "fig", "vol", "sra", "srta", "mme", "mlle", "bzw", "ca", "usw", "z.b", "d.h",
    }
)  # fmt: skip


class SentenceSplitter:
    """Feed LLM deltas with `push`; take whole sentences as soon as they are certain.

    A sentence ends at a terminator followed by white space (or at once for CJK terminators),
    except after abbreviations and single initials, inside decimals, times, e-mail addresses
    and URLs (no space follows their dots), and at an ellipsis followed by a lower-case word.
    Sentences are never cut by word count.
    """

    def __init__(self, long_run_chars: int = LONG_RUN_CHARS) -> None:
        self._buffer = ""
        self._scan_from = 0
        self._long_run_chars = long_run_chars

    def push(self, delta: str) -> list[str]:
        """Add a delta; return the sentences it completed, in order."""
        self._buffer += delta
        return self._drain(final=False)

    def flush(self) -> list[str]:
        """End of stream: return whatever is left as the last sentence(s)."""
        sentences = self._drain(final=True)
        rest = self._buffer.strip()
        self._buffer = ""
        self._scan_from = 0
        if _speakable(rest):
            sentences.append(rest)
        return sentences

    def _drain(self, *, final: bool) -> list[str]:
        sentences: list[str] = []
        while True:
            end = self._find_end(final=final)
            if end is None:
                break
            sentence = self._buffer[:end].strip()
            self._buffer = self._buffer[end:].lstrip()
            self._scan_from = 0
            sentences.append(sentence)
        if not final and len(self._buffer) >= self._long_run_chars:
            cut = _long_run_cut(self._buffer)
            if cut is not None:
                sentences.append(self._buffer[:cut].strip())
                self._buffer = self._buffer[cut:].lstrip()
                self._scan_from = 0
        return sentences

    def _find_end(self, *, final: bool) -> int | None:
        """Index just past the first certain sentence end, or None (keep `_scan_from` there)."""
        text = self._buffer
        i = self._scan_from
        while i < len(text):
            if text[i] not in _TERMINATORS:
                i += 1
                continue
            end = i
            while end < len(text) and text[end] in _TERMINATORS:
                end += 1
            while end < len(text) and text[end] in _CLOSERS:
                end += 1
            verdict = self._judge(i, end, final=final)
            if verdict is None:
                self._scan_from = i
                return None
            if verdict and _speakable(text[:end]):
                return end
            i = end
        self._scan_from = i
        return None

    def _judge(self, start: int, end: int, *, final: bool) -> bool | None:
        """Is the terminator run text[start:end] a sentence end? None: cannot tell yet."""
        text = self._buffer
        if end == len(text):
            return True if final else None
        run = text[start:end]
        if any(ch in _UNSPACED_TERMINATORS for ch in run):
            return True
        if not text[end].isspace():
            return False  # 3.14, 10.30, john.doe@example.com, example.com/path, e.g.x
        if "…" in run or "..." in run:
            following = text[end:].lstrip()
            if not following:
                return True if final else None
            return not following[0].islower()
        if run.rstrip("".join(_CLOSERS)) == ".":
            token = _token_before(text, start)
            if token.lower() in ABBREVIATIONS:
                return False
            if len(token) == 1 and token.isalpha() and token.isupper():
                return False  # an initial: "J. Smith"
        return True


def _token_before(text: str, index: int) -> str:
    begin = index
    while begin > 0 and not text[begin - 1].isspace():
        begin -= 1
    return text[begin:index].lstrip(_OPENERS)


def _speakable(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def _long_run_cut(text: str) -> int | None:
    """Where to cut an over-long run: after the last clause separator, else the last space."""
    for i in range(len(text) - 1, MIN_CLAUSE_CHARS - 1, -1):
        if text[i] in _CLAUSE_SEPARATORS and (i + 1 == len(text) or text[i + 1].isspace()):
            return i + 1
    for i in range(len(text) - 1, MIN_CLAUSE_CHARS - 1, -1):
        if text[i].isspace():
            return i
    return None
