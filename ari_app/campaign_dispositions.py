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


def disposition(ended: EndedCall, *, leaves_voicemail: bool) -> Disposition:
    """The attempt's disposition. `leaves_voicemail`: the agent's policy speaks a message into
    a mailbox (AMD answered "machine" and the message was left)."""
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
        return Disposition.VOICEMAIL_LEFT if leaves_voicemail else Disposition.VOICEMAIL_NO_MESSAGE
    if DNC_TOOL in ended.tools:
        return Disposition.DNC_REQUESTED
    if ended.outcome == CallOutcome.TRANSFERRED.value:
        # Handed to a person (a failed transfer leaves the call with the agent).
        return Disposition.TRANSFERRED
    if ended.outcome == CallOutcome.VOICEMAIL.value:
        # A mailbox whose message was spoken ends completed (seen on Asterisk 22.10.1), told
        # by AMD or by the agent after AMD took it for a person: both leave the message when
        # the policy has one.
        return Disposition.VOICEMAIL_LEFT if leaves_voicemail else Disposition.VOICEMAIL_NO_MESSAGE
    return Disposition.HUMAN
