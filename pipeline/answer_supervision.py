"""Who answered an outbound call, from what the callee says in the first turns: a voicemail
greeting (pipeline/voicemail.py), an automated menu (IVR) or a call screener ("Please say
your name and why you are calling", Google's call screen), else a person.

The policy the engine applies (see `AnswerSupervisor`):
- voicemail: the agent's voicemail policy;
- IVR: the call ends at once with outcome `ivr`, unless the agent can press keys
  (`send_dtmf`), in which case its model may find its way through the menu;
- call screening: the model answers the screener (who calls and why) so the person can pick
  up. While no person has spoken, the call's outcome is the system that answered
  (`ivr` / `call_screening`); a later callee turn that sounds like neither is a person.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Final

from pipeline.records import CallOutcome
from pipeline.voicemail import VOICEMAIL_DETECTION_TURNS, match_voicemail_greeting, normalize


class Answer(StrEnum):
    VOICEMAIL = "voicemail"
    IVR = "ivr"
    CALL_SCREENING = "call_screening"


# Matched on lower-case text without accents (see pipeline/voicemail.py).
_IVR: Final = (
    r"\b(?:press|dial|select) (?:one|two|three|four|five|six|seven|eight|nine|zero|star|pound|"
    r"[0-9#*])\b",
    r"\bfor [a-z ]{2,40},? (?:press|dial|say)\b",
    r"(?:main|following) menu",
    r"menu options have changed",
    r"your call is important to us",
    r"(?:enter|key in) (?:your|the) (?:extension|account|party)",
    r"if you know your party'?s extension",
    r"\b(?:pulse|oprima|marque) (?:el )?(?:uno|dos|tres|[0-9])\b",
    r"\bappuyez sur (?:la touche )?(?:un|deux|trois|[0-9])\b",
    r"\bdrucken sie (?:die )?(?:eins|zwei|drei|[0-9])\b",
)
_SCREENING: Final = (
    r"say your name and (?:the reason|why) (?:you(?:'re| are) calling|for (?:your|the) call)",
    r"(?:please|kindly) (?:state|record|say) your (?:full )?name",
    r"(?:is )?using a (?:call )?screening service",
    r"this call is being screened",
    r"google (?:assistant|call screen)",
    r"(?:see|check) if (?:this|the) person is available",
    r"(?:stay on the line|please hold)[, ]+(?:while|and) (?:i|we) (?:see|check|connect)",
)
_IVR_PATTERN: Final = re.compile("|".join(f"(?:{p})" for p in _IVR))
_SCREENING_PATTERN: Final = re.compile("|".join(f"(?:{p})" for p in _SCREENING))
# The outcomes a system that answered replaces: the call ended without a person in it.
_ENDED_WITHOUT_A_PERSON: Final = frozenset(
    {CallOutcome.CALLER_HUNG_UP, CallOutcome.AGENT_ENDED, CallOutcome.STOPPED}
)


def match_answering_system(text: str) -> Answer | None:
    """IVR or call screening when `text` sounds like one (screening first: a screener's
    "say your name" is no menu), else None."""
    normalized = normalize(text)
    if _SCREENING_PATTERN.search(normalized):
        return Answer.CALL_SCREENING
    if _IVR_PATTERN.search(normalized):
        return Answer.IVR
    return None


class AnswerSupervisor:
    """One outbound call's answer: checks each final transcript of the callee."""

    def __init__(self, turns: int = VOICEMAIL_DETECTION_TURNS) -> None:
        self._turns_left = turns
        self.system: Answer | None = None  # a machine still on the line (IVR, screener)

    def check(self, transcript: str) -> Answer | None:
        """What this turn reveals: a voicemail greeting or a system heard first in the call's
        first turns (None otherwise, and for a turn that only confirms it)."""
        if self.system is not None:
            if match_answering_system(transcript) is None:
                self.system = None  # a person came on the line
            return None
        if self._turns_left <= 0:
            return None
        self._turns_left -= 1
        if match_voicemail_greeting(transcript) is not None:
            return Answer.VOICEMAIL
        self.system = match_answering_system(transcript)
        return self.system

    def outcome(self, ended: CallOutcome) -> CallOutcome:
        """The call's outcome: the system that answered, when no person spoke after it."""
        if self.system is not None and ended in _ENDED_WITHOUT_A_PERSON:
            return CallOutcome(self.system.value)
        return ended
