"""The fake's refusing callees against what Asterisk 22.10.1 sent when a PJSIP callee on the
same Asterisk refused the call (captured 2026-12-05 with tests/live_asterisk/callees: Busy()
and Hangup(21), dialled by an ARI originate into vocals-outbound as Vocals dials, the app
subscribed to the trunk's endpoint beforehand), and when the trunk's transport was missing."""

from __future__ import annotations

from typing import Any

import pytest

from ari_app.client import AriClient
from ari_app.errors import Unprocessable
from tests.ari.conftest import Recorder
from tests.fakes.asterisk import Callee, FakeAsterisk

# (type, dialstatus or cause, cause_txt, tech_cause) of each event, in the order received.
CAPTURED: dict[str, list[tuple[Any, ...]]] = {
    "busy": [
        ("Dial", "", None, None),
        ("ChannelHangupRequest", 17, None, 486),
        ("Dial", "BUSY", None, None),
        ("ChannelDestroyed", 17, "User busy", 486),
    ],
    "rejected": [
        ("Dial", "", None, None),
        ("ChannelHangupRequest", 21, None, 403),
        ("Dial", "NOANSWER", None, None),
        ("ChannelDestroyed", 21, "Call Rejected", 403),
    ],
    "no-transport": [
        ("Dial", "", None, None),
        ("ChannelHangupRequest", 34, None, 503),
        ("Dial", "CONGESTION", None, None),
        ("ChannelDestroyed", 34, "Circuit/channel congestion", 503),
    ],
}
TYPES = {"Dial", "ChannelHangupRequest", "ChannelDestroyed"}


def _shape(event: dict[str, Any]) -> tuple[Any, ...]:
    first = event["dialstatus"] if event["type"] == "Dial" else event["cause"]
    return (event["type"], first, event.get("cause_txt"), event.get("tech_cause"))


async def _dial(ari: AriClient) -> str:
    channel = await ari.originate(
        "PJSIP/1000@trunk1",
        context="vocals-outbound",
        extension="s",
        priority=1,
        variables={"VOCALS_APP": "vocals", "VOCALS_CALL_ID": "call-1"},
    )
    return channel.id


@pytest.mark.parametrize("outcome", ["busy", "rejected"])
@pytest.mark.parametrize("ring_s", [0.0, 0.05], ids=["at-once", "after-ringing-briefly"])
async def test_a_refusing_callee_sends_what_asterisk_sent(
    fake: FakeAsterisk, ari: AriClient, events: Recorder, outcome: str, ring_s: float
) -> None:
    fake.callees["1000"] = Callee(outcome=outcome, ring_s=ring_s)  # type: ignore[arg-type]
    await ari.subscribe("endpoint:PJSIP/trunk1")
    await _dial(ari)
    await events.wait_for("ChannelDestroyed")
    assert [_shape(e) for e in fake.events_sent if e["type"] in TYPES] == CAPTURED[outcome]


async def test_an_invite_with_no_transport_ends_in_congestion(
    fake: FakeAsterisk, ari: AriClient, events: Recorder
) -> None:
    fake.endpoint_transports["trunk1"] = "transport-tls"
    await ari.subscribe("endpoint:PJSIP/trunk1")
    channel_id = await _dial(ari)
    with pytest.raises(Unprocessable):
        await ari.subscribe(f"channel:{channel_id}")
    await events.wait_for("ChannelDestroyed")
    shapes = [_shape(e) for e in fake.events_sent if e["type"] in TYPES]
    assert shapes == CAPTURED["no-transport"]
    assert fake.originations == []


async def test_a_callee_refusing_at_once_is_gone_before_a_channel_subscription(
    fake: FakeAsterisk, ari: AriClient, events: Recorder
) -> None:
    fake.callees["1000"] = Callee(outcome="busy", ring_s=0)
    channel_id = await _dial(ari)
    with pytest.raises(Unprocessable):
        await ari.subscribe(f"channel:{channel_id}")
    assert fake.events_sent == []


async def test_only_a_known_endpoint_can_be_subscribed_to(ari: AriClient, events: Recorder) -> None:
    with pytest.raises(Unprocessable):
        await ari.subscribe("endpoint:PJSIP/nosuchtrunk")
    application = await ari.subscribe("endpoint:PJSIP/trunk1")
    assert application.endpoint_ids == ["PJSIP/trunk1"]
