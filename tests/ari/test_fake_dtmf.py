"""The fake Asterisk's `POST /channels/{id}/dtmf` answers as Asterisk 22.10.1 did when probed
(channel looked up first, timings read like atoi, characters that are no key skipped), and
the keys reach the far end in order, one `duration + between` apart."""

from __future__ import annotations

import time

import pytest

from ari_app.client import AriClient
from ari_app.errors import AriError
from tests.ari.harness import eventually
from tests.fakes.asterisk import FakeAsterisk


async def refused(ari: AriClient, channel: str, **params: str) -> tuple[int, str]:
    with pytest.raises(AriError) as caught:
        await ari.request("POST", f"/channels/{channel}/dtmf", params=params)
    return caught.value.status, caught.value.message


async def test_dtmf_answers_as_asterisk_and_keys_reach_the_far_end(
    fake: FakeAsterisk, ari: AriClient
) -> None:
    assert await refused(ari, "nosuch") == (404, "Channel not found")
    assert await refused(ari, "nosuch", dtmf="12") == (404, "Channel not found")
    far = await fake.inbound_call("+15550001234")
    assert await refused(ari, far.channel_id) == (400, "DTMF is required")

    sent_at = time.monotonic()
    await ari.send_dtmf(far.channel_id, "1x2#", between_ms=200, duration_ms=100)
    await ari.request(
        "POST", f"/channels/{far.channel_id}/dtmf", params={"dtmf": "9", "between": "abc"}
    )
    await eventually(lambda: len(far.dtmf_received) == 4, 5)
    assert sorted(far.dtmf_received) == sorted("12#9")
    assert [k for k in far.dtmf_received if k != "9"] == list("12#")
    # Each key is heard at its end: the last of three 100 ms keys 200 ms apart, time-scaled.
    assert time.monotonic() - sent_at >= fake.time_scale * (3 * 0.1 + 2 * 0.2)
