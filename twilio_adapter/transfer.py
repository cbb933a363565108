"""Transfers of one Twilio call: `pipeline.call_control.CallControl` over the Calls API.

The call is redirected to TwiML that `<Dial>`s the destination: Twilio ends our Media Stream
and puts the caller through. That is a blind transfer whatever the agent's mode (a warm one
would need a conference), to E.164 numbers only; once Twilio took the new TwiML the call is no
longer ours to hang up.
"""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

import structlog

from ari_app.call import Call
from pipeline.call_control import (
    Announce,
    TransferFailure,
    TransferMode,
    TransferResult,
    TransferTarget,
)
from twilio_adapter.accounts import TwilioAccounts
from twilio_adapter.rest import TwilioApiError, TwilioRest

log = structlog.get_logger(__name__)


def dial_twiml(number: str, *, ring_timeout_s: int, caller_id: str | None) -> str:
    """TwiML putting the caller through to `number` (an E.164 number, checked before)."""
    attributes = f' timeout="{ring_timeout_s}"'
    if caller_id:
        attributes += f" callerId={quoteattr(caller_id)}"
    return f"<Response><Dial{attributes}>{number}</Dial></Response>"


class TwilioTransfer:
    """The transfers of one Twilio call (its `CallControl`)."""

    def __init__(
        self, call: Call, call_sid: str, accounts: TwilioAccounts, rest: TwilioRest
    ) -> None:
        self._call = call
        self._call_sid = call_sid
        self._accounts = accounts
        self._rest = rest
        # Set once Twilio took the new TwiML: the call is Twilio's `<Dial>` from then on.
        self.target: str | None = None

    async def transfer(
        self,
        target: TransferTarget,
        mode: TransferMode,
        *,
        ring_timeout_s: int,
        announce: Announce | None,
    ) -> TransferResult:
        if self.target is not None:
            return TransferResult(failure=TransferFailure.FAILED, detail="already transferred")
        if target.kind != "number":
            return TransferResult(
                failure=TransferFailure.FAILED,
                detail="a Twilio call can only be transferred to a phone number",
            )
        creds = await self._accounts.for_tenant(self._call.tenant_id)
        if creds is None:
            return TransferResult(failure=TransferFailure.FAILED, detail="no Twilio account")
        twiml = dial_twiml(
            target.target,
            ring_timeout_s=ring_timeout_s,
            # Twilio accepts only the call's own numbers as caller ID: the one dialled.
            caller_id=self._call.to_number or None,
        )
        # Before the request: Twilio may end our stream before it answers.
        self.target = target.name
        try:
            await self._rest.redirect(creds, self._call_sid, twiml)
        except TwilioApiError as exc:
            self.target = None
            log.warning("Twilio transfer refused", status=exc.status, error=exc.message)
            return TransferResult(failure=TransferFailure.FAILED, detail=exc.message)
        return TransferResult(mode=TransferMode.BLIND)
