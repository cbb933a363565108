"""When caller speech interrupts the agent, by the agent's barge-in sensitivity."""

from __future__ import annotations

import re
from dataclasses import dataclass

from media.vad import BargeInSensitivity

# Words callers say to show they are listening, not to take the turn ("mm-hm", "okay").
BACKCHANNEL_WORDS = frozenset(
    {
        "mm", "mmm", "hm", "hmm", "mhm", "mmhm", "uh", "huh", "um", "ah", "aha", "oh",
        "yeah", "yes", "yep", "yup", "ya", "ok", "okay", "right", "sure", "alright", "cool",
        "i", "see", "got", "it", "go", "on", "great", "fine",
        "si", "sí", "vale", "claro", "oui", "d'accord", "ja", "genau", "sim", "certo",
    }
)  # fmt: skip

_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


@dataclass(frozen=True, slots=True)
class BargeInRule:
    """`confirm_ms`: caller speech this long interrupts whatever is said (0: at once).

    `content_words`: this many words that are not backchannels interrupt sooner.
    """

    confirm_ms: int
    content_words: int


# High sensitivities stop at the VAD's speech onset (the VAD profile already demands its own
# minimum speech). Lower ones let backchannels (about 200-600 ms) pass and wait for words.
BARGE_IN_RULES: dict[BargeInSensitivity, BargeInRule] = {
    BargeInSensitivity.VERY_HIGH: BargeInRule(confirm_ms=0, content_words=1),
    BargeInSensitivity.HIGH: BargeInRule(confirm_ms=0, content_words=1),
    BargeInSensitivity.MEDIUM: BargeInRule(confirm_ms=700, content_words=1),
    BargeInSensitivity.LOW: BargeInRule(confirm_ms=1000, content_words=1),
    BargeInSensitivity.VERY_LOW: BargeInRule(confirm_ms=1500, content_words=2),
}


def content_word_count(text: str) -> int:
    """Words in `text` that are not backchannels."""
    return sum(1 for w in _WORD.findall(text.lower()) if w not in BACKCHANNEL_WORDS)


def is_backchannel(text: str) -> bool:
    """True when `text` has words and all of them are backchannels."""
    return bool(_WORD.search(text)) and content_word_count(text) == 0


class BargeInPolicy:
    """Decides, as caller speech goes on over agent speech, whether it takes the turn."""

    def __init__(self, sensitivity: BargeInSensitivity) -> None:
        self.rule = BARGE_IN_RULES[sensitivity]
        # Set while the VAD takes the line's noise for speech (the recognizer, not the VAD,
        # heard the caller's last turn end): its speech time means nothing, only words count.
        self.noisy_line = False

    def should_interrupt(self, speech_ms: int, transcript: str = "") -> bool:
        """`speech_ms`: caller speech so far in this utterance; `transcript`: its latest text."""
        if speech_ms >= self.rule.confirm_ms and not self.noisy_line:
            return True
        return content_word_count(transcript) >= self.rule.content_words
