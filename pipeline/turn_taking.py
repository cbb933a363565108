"""When the caller's turn is over: after a fixed silence, or by whether what they said is done.

`silence` ends the turn after the agent's end-of-speech silence, whatever was said. `smart`
reads the transcript so far: a finished sentence is answered after a short silence, an
unfinished one ("I'd like to book for, um") waits longer, up to a cap, and a turn with no
words recognized yet waits the profile's ordinary silence. The policy is asked on every
silent 20 ms frame, so a transcript that arrives during the silence still counts.

A finished statement of a few words ("I need a haircut") is often the first clause of a longer
turn ("... and a beard trim"), added after a breath: it waits the ordinary silence too. A
question, however short, asks for the answer at once.

A recognizer whose words are often wrong (the vendor's `ends_turns_early` is False) decides
nothing: `smart` waits the ordinary silence whatever it heard. Its wrong words look finished
as often as not, and letting them only lengthen the turn (open endings wait to the cap) was
measured too: on PocketSphinx's words it cut off no fewer callers than the ordinary silence,
answered 100 ms later (p50) and, waiting longer on noisy lines, left more turns unanswered.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

import msgspec

from media.vad import VAD_PROFILES
from providers.base import ProviderKind
from providers.registry import UnknownVendor, get

if TYPE_CHECKING:
    from pipeline.agent import AgentSettings  # it imports this module's settings


class TurnDetection(StrEnum):
    """How an agent decides the caller finished speaking."""

    SILENCE = "silence"
    SMART = "smart"


class SmartTurnSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Silences (ms) after which `smart` answers: a finished sentence, an unfinished one (the
    cap), and speech with no transcript yet."""

    complete_ms: int = 200
    incomplete_ms: int = 1200
    unknown_ms: int = 600

    def __post_init__(self) -> None:
        for name in ("complete_ms", "incomplete_ms", "unknown_ms"):
            if not 100 <= getattr(self, name) <= 5000:
                raise ValueError(f"turn_detection {name} must be between 100 and 5000")
        if not self.complete_ms <= self.unknown_ms <= self.incomplete_ms:
            raise ValueError("turn_detection needs complete_ms <= unknown_ms <= incomplete_ms")


class EndOfTurnPolicy(Protocol):
    """Told what the caller has said so far; asked whether a silence ends their turn."""

    def heard(self, text: str) -> None: ...

    def turn_over(self, silent_ms: int) -> bool: ...


class SilencePolicy:
    """The turn ends after a fixed silence, whatever was said."""

    def __init__(self, silence_ms: int) -> None:
        self.silence_ms = silence_ms

    def heard(self, text: str) -> None:
        """Words do not matter to this policy."""

    def turn_over(self, silent_ms: int) -> bool:
        return silent_ms >= self.silence_ms


class SmartPolicy:
    """A short silence ends a finished sentence, a long one (the cap) an unfinished one, and
    the ordinary one a turn whose words are unknown or only a short statement so far."""

    def __init__(self, settings: SmartTurnSettings) -> None:
        self.settings = settings
        self._wait_ms = settings.unknown_ms

    def heard(self, text: str) -> None:
        done = is_complete(text)
        s = self.settings
        if done is None or (done and self.may_go_on(text)):
            self._wait_ms = s.unknown_ms
        else:
            self._wait_ms = s.complete_ms if done else s.incomplete_ms

    def may_go_on(self, text: str) -> bool:
        """Whether finished-looking words are short enough to be a first clause."""
        return is_short_statement(text)

    def turn_over(self, silent_ms: int) -> bool:
        return silent_ms >= self._wait_ms


def policy_for(agent: AgentSettings) -> EndOfTurnPolicy:
    """The agent's policy (`silence` waits its end-of-speech silence, or its profile's;
    `smart` on an untrusted recognizer's words, its ordinary silence)."""
    if agent.turn_detection is TurnDetection.SMART:
        if words_end_turns_early(agent):
            return SmartPolicy(agent.smart_turn)
        return SilencePolicy(agent.smart_turn.unknown_ms)
    return SilencePolicy(agent.end_of_speech_ms or VAD_PROFILES[agent.barge_in].min_silence_ms)


def words_end_turns_early(agent: AgentSettings) -> bool:
    """Whether every recognizer the call may hear through (its fallback too: it may take over
    mid-call) is trusted to judge the caller's words finished or not."""
    configs = [config for config in (agent.stt, agent.stt_fallback) if config is not None]
    return all(_ends_turns_early(config.vendor) for config in configs)


def _ends_turns_early(vendor: str) -> bool:
    try:
        return get(ProviderKind.STT, vendor).ends_turns_early
    except UnknownVendor:
        return True  # not registered in this process (a test's fake): the registry's default


# Words after which an English sentence cannot end: fillers, conjunctions, prepositions,
# determiners, auxiliaries, subject pronouns and discourse openers ("actually, wait").
_OPEN_ENDINGS = frozenset(
    {
        "um", "uh", "er", "erm", "ah", "hmm", "like", "so", "actually", "well", "wait",
        "basically", "also", "just", "maybe", "and", "but", "or", "because", "cause", "if",
        "that", "when", "while", "although", "then", "than", "for", "to", "at", "in", "on",
        "of", "with", "from", "by", "about", "after", "before", "into", "until", "between",
        "a", "an", "the", "my", "your", "our", "their", "his", "her", "its", "this", "these",
        "those", "some", "any", "is", "are", "was", "were", "am", "be", "been", "will",
        "would", "can", "could", "should", "shall", "must", "have", "has", "had", "do",
        "does", "did", "i", "i'm", "i'd", "i'll", "we", "they", "he", "she", "it's", "dot",
        "hyphen", "dash", "underscore",
    }
)  # fmt: skip
# Spoken digits: a run of them is a number being dictated.
_DIGITS = frozenset(
    {"zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
)
# Dictated numbers (phone, card, booking) run 7 digits or more; 2-6 so far is mid-number.
_SHORTEST_DICTATED_NUMBER = 7
_TOKEN = re.compile(r"[a-z0-9']+")
# A statement this short (in words, openers aside) may be the first clause of a longer turn;
# most finished turns are longer, and the short ones are mostly questions or answers.
_SHORT_STATEMENT_WORDS = 4
# A clause the caller may go on from opens with its subject. Questions (an auxiliary or a
# question word first), answers ("yes", "no thanks") and fragments ("Tuesday", "after five")
# do not, and are answered after the short silence.
_SUBJECTS = frozenset(
    {
        "i", "i'm", "i'd", "i'll", "i've", "we", "we're", "we'd", "we'll", "it", "it's",
        "that's", "this", "there's", "my", "our", "he", "she", "they", "they're",
    }
)  # fmt: skip
# Words a caller puts before a sentence ("so, I need ...", "well, ...").
_OPENERS = frozenset(
    {"so", "well", "actually", "wait", "um", "uh", "er", "erm", "ah", "oh", "and", "but"}
)


def is_complete(text: str) -> bool | None:
    """Whether `text`, a caller's words so far (no punctuation needed), could end a turn.

    None when there are no words. A transcript-only classifier: it runs in microseconds on
    the loop, and unlike audio models trained on wideband speech it does not degrade at 8 kHz.
    """
    words = _TOKEN.findall(text.lower())
    if not words:
        return None
    last = words[-1]
    if last in _OPEN_ENDINGS or words[-2:] == ["the", "name"]:  # "it's under the name"
        return False
    if len(last) == 1 and last.isalpha() and len(words) > 1:
        return False  # spelling a name or an address out, letter by letter
    digits = 0
    for word in reversed(words):
        if word in _DIGITS:
            digits += 1
        elif word.isdigit():
            digits += len(word)
        else:
            break
    return not 2 <= digits < _SHORTEST_DICTATED_NUMBER


def is_short_statement(text: str) -> bool:
    """Whether `text` is a clause of at most `_SHORT_STATEMENT_WORDS` words that opens with
    its subject ("I need a haircut")."""
    words = _TOKEN.findall(text.lower())
    content = [w for w in words if w not in _OPENERS]
    if not content or len(content) > _SHORT_STATEMENT_WORDS:
        return False
    return content[0] in _SUBJECTS
