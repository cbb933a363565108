"""Keys to the far end of a Twilio call, as tones in the Media Stream's audio.

A bidirectional Media Stream carries only audio, marks and clears to Twilio, and updating the
call's TwiML with `<Play digits>` would end the `<Connect><Stream>` (and with it the
conversation), so the keys are played in-band, as a phone's keypad does.
"""

from __future__ import annotations

from media.dtmf_tones import dtmf_audio
from media.leg import MediaLeg


class InbandDtmf:
    """The `DtmfPort` of one Twilio call: the keys' tones queued on its leg after what the
    agent already said."""

    def __init__(self, leg: MediaLeg) -> None:
        self._leg = leg

    async def send_dtmf(self, digits: str) -> None:
        await self._leg.send(dtmf_audio(digits, self._leg.format))
