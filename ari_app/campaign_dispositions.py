"""How a campaign attempt ended, read from its call's final record."""

from __future__ import annotations

from typing import Final

from ari_app.do_not_call_gate import ON_THE_LIST
from pipeline.do_not_call_tool import NAME as DNC_TOOL
from pipeline.records import CallOutcome
from store.campaign_rules import Disposition
from store.repositories.campaigns import EndedCall

# A call the far end refused, as the record states it: cause 21 (a 403 on Asterisk 22.10.1).
_REJECTED_MARKERS: Final = ("rejected", "cause 21", "603", "403")
_BY_STATUS: Final = {
    "busy": Disposition.BUSY,
    "no-answer": Disposition.NO_ANSWER,
    "cancelled": Disposition.CANCELLED,
}
# What answered an outbound call when no person came on (pipeline/answer_supervision.py).
_BY_OUTCOME: Final = {
    CallOutcome.IVR.value: Disposition.IVR,
    CallOutcome.CALL_SCREENING.value: Disposition.CALL_SCREENING,
}


def disposition(ended: EndedCall) -> Disposition:
    """The attempt's disposition, from what the call's record says happened."""
    if ended.status in _BY_STATUS:
        return _BY_STATUS[ended.status]
    if ended.status == "failed":
        reason = (ended.error_reason or "").lower()
        if reason == ON_THE_LIST:
            return Disposition.ON_DNC_LIST
        if any(marker in reason for marker in _REJECTED_MARKERS):
            return Disposition.REJECTED
        return Disposition.FAILED
    if ended.status == "voicemail":
        return _voicemail(ended)
    if DNC_TOOL in ended.tools:
        return Disposition.DNC_REQUESTED
    if ended.outcome == CallOutcome.TRANSFERRED.value:
        # Handed to a person (a failed transfer leaves the call with the agent).
        return Disposition.TRANSFERRED
    if ended.outcome in _BY_OUTCOME:
        return _BY_OUTCOME[ended.outcome]
    if ended.outcome == CallOutcome.VOICEMAIL.value:
        # AMD's verdict (a Twilio call's status stays completed), or the agent itself heard a
        # mailbox after AMD took it for a person.
        return _voicemail(ended)
    return Disposition.HUMAN


def _voicemail(ended: EndedCall) -> Disposition:
    return Disposition.VOICEMAIL_LEFT if ended.voicemail_left else Disposition.VOICEMAIL_NO_MESSAGE
