"""Why a transfer leg failed, from what Asterisk 22.10.1 really sent for it (captured over ARI
on a Local channel originated into an app, its dialplan running Busy(), Ringing() past the
originate timeout, or Hangup(21)): Asterisk names the cause in one place or the other, and
in no promised order."""

from __future__ import annotations

import pytest

from ari_app.transfer import _Leg
from pipeline.call_control import TransferFailure

# (Dial statuses seen, then ChannelDestroyed's cause) of the leg, in the order captured.
CAPTURED = {
    # Dial BUSY, then ChannelDestroyed cause 0 "Unknown": the cause says nothing.
    "busy": (["", "BUSY"], 0, TransferFailure.BUSY),
    # Dial RINGING, then ChannelDestroyed cause 19 at the originate timeout; no NOANSWER.
    "no answer": (["", "RINGING"], 19, TransferFailure.NO_ANSWER),
    # Dial NOANSWER (after the hangup request with cause 21), then ChannelDestroyed 21.
    "rejected": (["", "NOANSWER"], 21, TransferFailure.REJECTED),
}


@pytest.mark.parametrize("case", list(CAPTURED))
def test_failure_reason_from_the_captured_events(case: str) -> None:
    statuses, cause, expected = CAPTURED[case]
    leg = _Leg("leg-1")
    for status in statuses:
        if status:
            leg.dialstatus = status
    leg.cause = cause
    assert leg.failure() is expected
