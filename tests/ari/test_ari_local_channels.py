"""The fake Asterisk's Local channels against the real 22.10.1 captures: `;1` of a pair
originated into an app enters it once `;2` is answered, with the captured events, and
hanging up one half ends the other."""

from __future__ import annotations

from ari_app.client import AriClient
from ari_app.events import ChannelDestroyed, StasisStart
from tests.ari.conftest import Recorder
from tests.ari.test_ari_captures import CORE, captured
from tests.fakes.asterisk import FakeAsterisk

# The DTMF capture's ;1 half also got digits; this scenario presses none.
SHAPE = CORE - {"ChannelDtmfReceived"}


def half_one_shape(events: list[dict[str, object]]) -> list[tuple[str, frozenset[str]]]:
    """Type and fields of the events about a `;1` half (as the channel or the Dial peer)."""
    out = []
    for event in events:
        channel = event.get("channel") or event.get("peer")
        name = channel.get("name", "") if isinstance(channel, dict) else ""
        if event["type"] in SHAPE and name.endswith(";1"):
            out.append((str(event["type"]), frozenset(event)))
    return out


async def test_local_pair_into_two_stasis_apps_matches_capture(
    fake: FakeAsterisk, ari: AriClient, events: Recorder
) -> None:
    fake.dialplan["talk"] = lambda exten: ["vocals", "inbound", exten]
    one = await ari.originate(
        "Local/15550001111@talk/n",
        app="vocals",
        app_args=["dtmfsender"],
        channel_id="half-1",
        other_channel_id="half-2",
    )
    assert one.name.endswith(";1") and one.state == "Down"
    await events.wait_for("StasisStart")
    dialled = events.events[-1]
    assert isinstance(dialled, StasisStart) and dialled.channel.id == "half-2"
    assert dialled.args == ["inbound", "15550001111"] and dialled.channel.name.endswith(";2")
    await ari.answer("half-2")
    await events.wait_for("StasisStart", 2)
    entered = events.events[-1]
    assert isinstance(entered, StasisStart) and entered.channel.id == "half-1"
    assert entered.args == ["dtmfsender"] and entered.channel.state == "Up"
    bridge = await ari.create_bridge()
    await ari.add_channels(bridge.id, ["half-1"])
    await ari.hangup("half-2")
    await events.wait_for("ChannelDestroyed")
    destroyed = events.events[-1]
    assert isinstance(destroyed, ChannelDestroyed) and destroyed.channel.id == "half-1"
    assert destroyed.cause == 16
    assert half_one_shape(fake.events_sent) == half_one_shape(
        captured("more/dtmf_local_to_audiosocket")
    )
    assert [c.id for c in fake.live_channels()] == []


async def test_local_pair_to_no_extension_is_destroyed(
    fake: FakeAsterisk, ari: AriClient, events: Recorder
) -> None:
    await ari.originate("Local/s@nowhere", app="vocals", channel_id="lost-1")
    await events.wait_for("ChannelDestroyed")
    destroyed = events.events[-1]
    assert isinstance(destroyed, ChannelDestroyed) and destroyed.channel.id == "lost-1"
    assert destroyed.cause == 0  # captured: cause 0 "Unknown", and no other event
    assert [e["type"] for e in fake.events_sent] == ["ChannelDestroyed"]
    assert fake.live_channels() == []
