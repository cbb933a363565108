"""The ARI client and events listener against the fake over real sockets."""

from __future__ import annotations

import pytest

from ari_app.client import AriClient, AriSettings
from ari_app.errors import AriUnreachable, BadRequest, NotFound, Unauthorized, Unprocessable
from ari_app.events import StasisStart
from tests.ari.conftest import Recorder
from tests.fakes.asterisk import FakeAsterisk


async def test_errors_carry_status_and_message(fake: FakeAsterisk, ari: AriClient) -> None:
    with pytest.raises(NotFound) as err:
        await ari.hangup("no-such-channel")
    assert (err.value.status, err.value.message) == (404, "Channel not found")
    assert (err.value.method, err.value.path) == ("DELETE", "/channels/no-such-channel")
    with pytest.raises(BadRequest):
        await ari.external_media(external_host="127.0.0.1", format="slin", data="x")
    bad = AriClient(AriSettings(url=fake.ari_url, username="vocals", password="wrong"))
    with pytest.raises(Unauthorized):
        await bad.ping()
    await bad.close()


async def test_unreachable_is_an_ari_error() -> None:
    client = AriClient(
        AriSettings(url="http://127.0.0.1:9/ari", username="u", password="p", request_timeout_s=1)
    )
    with pytest.raises(AriUnreachable) as err:
        await client.ping()
    assert err.value.status == 0
    await client.close()


async def test_modules_endpoints_info(fake: FakeAsterisk, ari: AriClient) -> None:
    await ari.reload_module("res_pjsip.so")
    assert fake.reloads == ["res_pjsip.so"]
    with pytest.raises(NotFound):
        await ari.reload_module("no_such_module.so")
    endpoint = await ari.get_endpoint("PJSIP", "trunk1")
    assert (endpoint.resource, endpoint.state, endpoint.channel_ids) == ("trunk1", "online", [])

    def break_config(f: FakeAsterisk) -> None:
        del f.endpoints["trunk1"]  # the reloaded file lost the trunk

    fake.reload_hooks["res_pjsip.so"] = break_config
    await ari.reload_module("res_pjsip")
    with pytest.raises(NotFound):
        await ari.get_endpoint("PJSIP", "trunk1")
    assert (await ari.info(["system"])).system is not None
    assert (await ari.ping()).ping == "pong"


async def test_bridge_lifecycle(fake: FakeAsterisk, ari: AriClient, events: Recorder) -> None:
    caller = await fake.inbound_call("200")
    await events.wait_for("StasisStart")
    bridge = await ari.create_bridge(name="b")
    with pytest.raises(BadRequest):
        await ari.add_channels(bridge.id, ["nope"])
    await ari.add_channels(bridge.id, [caller.channel_id])
    assert [b.channels for b in await ari.list_bridges()] == [[caller.channel_id]]
    await ari.remove_channels(bridge.id, [caller.channel_id])
    with pytest.raises(Unprocessable):
        await ari.remove_channels(bridge.id, [caller.channel_id])
    await ari.destroy_bridge(bridge.id)
    await events.wait_for("BridgeDestroyed")
    assert fake.live_bridges() == []


async def test_listener_reconnects_and_loses_events_meanwhile(
    fake: FakeAsterisk, events: Recorder
) -> None:
    await fake.drop_event_sockets()
    await fake.inbound_call("300")  # sent while nobody listens: lost, as captured
    await fake.wait_for_app("vocals")
    await fake.inbound_call("301")
    await events.wait_for("StasisStart")
    starts = [e for e in events.events if isinstance(e, StasisStart)]
    assert [s.args for s in starts] == [["inbound", "301"]]
