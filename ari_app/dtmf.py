"""Keys to the far end of an Asterisk call: ARI's `dtmf` operation on the caller's channel
(Asterisk sends them as the channel's technology does: RFC 4733 on a SIP leg, frames on a
Local channel)."""

from __future__ import annotations

from typing import Final

from ari_app.client import AriClient

# Key length and gap: ARI's defaults are 100 ms each; IVRs behind a PSTN gateway miss keys
# shorter than about 80 ms, so keep a margin on both.
DIGIT_MS: Final = 150
GAP_MS: Final = 150


class AriDtmf:
    """The `DtmfPort` of one Asterisk call."""

    def __init__(self, ari: AriClient, channel_id: str) -> None:
        self._ari = ari
        self._channel_id = channel_id

    async def send_dtmf(self, digits: str) -> None:
        await self._ari.send_dtmf(self._channel_id, digits, between_ms=GAP_MS, duration_ms=DIGIT_MS)
