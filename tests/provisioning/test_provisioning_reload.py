"""Render → write → reload over ARI → verify → roll back, against the shared fake Asterisk
(with PJSIP reload semantics from the captures) through the real ARI client."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

import msgspec
import pytest
from structlog.testing import capture_logs

import tests.fakes.asterisk.server as fake_server
from ari_app.client import AriClient, AriSettings
from ari_app.errors import Conflict, NotFound
from ari_app.models import Endpoint
from provisioning.ami import AmiConnection
from provisioning.models import Trunk, TrunkConfig
from provisioning.naming import object_names
from provisioning.reload import ReloadCoordinator, apply_trunks
from provisioning.render import render_all
from tests.fakes.ami import FakeAmi
from tests.fakes.asterisk import FakeAsterisk
from tests.provisioning.pjsip_reload import ENDPOINT_OPTIONS, PjsipReload
from tests.provisioning.trunk_samples import IP_TRUNK, REGISTRATION_TRUNK

NOT_FOUND = (NotFound,)


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


async def test_success_writes_reloads_both_modules_and_verifies(
    asterisk: FakeAsterisk, ari: AriClient, tmp_path: Path
) -> None:
    trunks = [REGISTRATION_TRUNK, IP_TRUNK]
    with capture_logs() as logs:
        result = await apply_trunks(ari, tmp_path, trunks, not_found=NOT_FOUND)
    assert result.ok, result.reason
    assert result.verified_by == "ari"
    assert set(result.endpoints) == {object_names(t).endpoint for t in trunks}
    for name, text in render_all(trunks).items():
        assert (tmp_path / name).read_text() == text
    assert asterisk.reloads == ["res_pjsip.so", "pbx_config.so"]
    assert REGISTRATION_TRUNK.password is not None
    assert REGISTRATION_TRUNK.password not in repr(logs)


async def test_broken_config_rolls_back_files_and_reloads_again(
    asterisk: FakeAsterisk, ari: AriClient, pjsip: PjsipReload, tmp_path: Path
) -> None:
    assert (await apply_trunks(ari, tmp_path, [IP_TRUNK], not_found=NOT_FOUND)).ok
    before = _snapshot(tmp_path)
    # This Asterisk does not know one option the renderer emits: the new endpoint is dropped.
    pjsip.endpoint_options = ENDPOINT_OPTIONS - {"from_domain"}
    result = await apply_trunks(ari, tmp_path, [IP_TRUNK, REGISTRATION_TRUNK], not_found=NOT_FOUND)
    assert result.outcome == "rolled_back"
    assert result.missing == (object_names(REGISTRATION_TRUNK).endpoint,)
    assert result.reason is not None and object_names(REGISTRATION_TRUNK).endpoint in result.reason
    assert _snapshot(tmp_path) == before
    # the good apply, the broken one, and the reload of the restored files
    assert asterisk.reloads == ["res_pjsip.so", "pbx_config.so"] * 3


async def test_unreachable_asterisk_reports_error_and_leaves_files_unchanged(
    ari: AriClient, tmp_path: Path
) -> None:
    assert (await apply_trunks(ari, tmp_path, [IP_TRUNK], not_found=NOT_FOUND)).ok
    before = _snapshot(tmp_path)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    settings = AriSettings(
        url=f"http://127.0.0.1:{closed_port}/ari", username="vocals", password="vocals"
    )
    async with AriClient(settings) as down:
        result = await apply_trunks(
            down, tmp_path, [IP_TRUNK, REGISTRATION_TRUNK], not_found=NOT_FOUND
        )
    assert result.outcome == "failed"
    assert result.reason is not None and result.reason.startswith("reload failed: AriUnreachable")
    assert _snapshot(tmp_path) == before


async def test_module_not_loaded_is_a_failure_with_files_restored(
    ari: AriClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fake_server, "RUNNING_MODULES", ("res_pjsip.so",))  # no pbx_config
    result = await apply_trunks(ari, tmp_path, [IP_TRUNK], not_found=NOT_FOUND)
    assert result.outcome == "failed"
    assert result.reason is not None and "Module not found in running modules" in result.reason
    assert _snapshot(tmp_path) == {}


async def test_invalid_trunk_writes_nothing_and_calls_nothing(
    asterisk: FakeAsterisk, ari: AriClient, tmp_path: Path
) -> None:
    bad = msgspec.structs.replace(IP_TRUNK, host="x\n#include /etc/passwd")
    result = await apply_trunks(ari, tmp_path, [bad], not_found=NOT_FOUND)
    assert result.outcome == "invalid"
    assert [e.field for e in result.errors] == ["trunks[0].host"]
    assert _snapshot(tmp_path) == {}
    assert asterisk.rest_log == []


async def test_ami_check_catches_an_update_asterisk_refused(
    ari: AriClient,
    pjsip: PjsipReload,
    ami_session: AmiConnection,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    trunks = [REGISTRATION_TRUNK, IP_TRUNK]
    first = await apply_trunks(ari, tmp_path, trunks, not_found=NOT_FOUND, inspector=ami_session)
    assert first.ok and first.verified_by == "ami"
    before = _snapshot(tmp_path)
    # The update asks for a codec this Asterisk lacks: it keeps the endpoint's old version,
    # which ARI's endpoint lookup cannot tell from the new one.
    pjsip.missing_codecs = frozenset({"opus"})
    updated = msgspec.structs.replace(IP_TRUNK, codecs=("opus", "ulaw"))
    caplog.set_level("DEBUG")
    with capture_logs() as logs:
        result = await apply_trunks(
            ari, tmp_path, [REGISTRATION_TRUNK, updated], not_found=NOT_FOUND, inspector=ami_session
        )
    assert result.outcome == "rolled_back" and result.verified_by == "ami"
    assert result.stale == (object_names(IP_TRUNK).endpoint,) and result.missing == ()
    assert result.reason is not None and "kept the previous version" in result.reason
    assert _snapshot(tmp_path) == before
    # PJSIPShowEndpoint replies carry the auth password (AuthDetail): never logged.
    assert REGISTRATION_TRUNK.password is not None
    assert REGISTRATION_TRUNK.password not in caplog.text + repr(logs)


async def test_ami_check_sees_endpoints_that_ari_still_lists(
    asterisk: FakeAsterisk,
    ari: AriClient,
    pjsip: PjsipReload,
    ami_session: AmiConnection,
    tmp_path: Path,
) -> None:
    assert (await apply_trunks(ari, tmp_path, [IP_TRUNK], not_found=NOT_FOUND)).ok
    assert (await apply_trunks(ari, tmp_path, [], not_found=NOT_FOUND)).ok  # trunk removed
    pjsip.endpoint_options = ENDPOINT_OPTIONS - {"dtmf_mode"}
    result = await apply_trunks(
        ari, tmp_path, [IP_TRUNK], not_found=NOT_FOUND, inspector=ami_session
    )
    # ARI still answers 200 for the removed endpoint; the live configuration has none.
    assert object_names(IP_TRUNK).endpoint in asterisk.endpoints
    assert result.outcome == "rolled_back"
    assert result.missing == (object_names(IP_TRUNK).endpoint,)


async def test_ami_down_falls_back_to_ari(
    ari: AriClient, ami_session: AmiConnection, ami: FakeAmi, tmp_path: Path
) -> None:
    await ami.stop()
    for _ in range(200):  # the lost connection is noticed on a later loop iteration
        if not ami_session.connected:
            break
        await asyncio.sleep(0.01)
    result = await apply_trunks(
        ari, tmp_path, [IP_TRUNK], not_found=NOT_FOUND, inspector=ami_session
    )
    assert result.ok and result.verified_by == "ari"


def _loader(trunks: list[Trunk]) -> tuple[list[int], Callable[[], Awaitable[TrunkConfig]]]:
    calls: list[int] = []

    async def load() -> TrunkConfig:
        calls.append(1)
        return TrunkConfig(trunks=tuple(trunks))

    return calls, load


async def test_debounce_collapses_a_burst_into_one_reload(
    asterisk: FakeAsterisk, ari: AriClient, tmp_path: Path
) -> None:
    trunks: list[Trunk] = []
    calls, load = _loader(trunks)
    coordinator = ReloadCoordinator(ari, tmp_path, load, not_found=NOT_FOUND, debounce_s=0.5)
    try:
        waiters = []
        for trunk in (REGISTRATION_TRUNK, IP_TRUNK):
            trunks.append(trunk)
            waiters.append(asyncio.create_task(coordinator.request_reload()))
            await asyncio.sleep(0.01)
        results = await asyncio.gather(*waiters)
        assert [r.outcome for r in results] == ["applied", "applied"]
        assert results[0] is results[1]
        assert len(calls) == 1 and coordinator.reloads_started == 1
        assert asterisk.reloads.count("res_pjsip.so") == 1
        assert set(results[0].endpoints) == {object_names(t).endpoint for t in trunks}
        again = await coordinator.request_reload()
        assert again.ok and coordinator.reloads_started == 2
    finally:
        await coordinator.close()


async def test_loader_failure_reaches_every_waiter_and_the_next_request_works(
    asterisk: FakeAsterisk, ari: AriClient, tmp_path: Path
) -> None:
    failures = [RuntimeError("store unavailable")]

    async def load() -> TrunkConfig:
        if failures:
            raise failures.pop()
        return TrunkConfig(trunks=(IP_TRUNK,))

    coordinator = ReloadCoordinator(ari, tmp_path, load, not_found=NOT_FOUND)
    try:
        outcomes = await asyncio.gather(
            coordinator.request_reload(), coordinator.request_reload(), return_exceptions=True
        )
        assert [str(o) for o in outcomes] == ["store unavailable"] * 2
        assert asterisk.rest_log == []
        assert (await coordinator.request_reload()).ok
    finally:
        await coordinator.close()


class SlowReloads:
    """The real client with slow module reloads, counting how many run at once."""

    def __init__(self, client: AriClient, delay_s: float) -> None:
        self._client = client
        self._delay_s = delay_s
        self.active = 0
        self.max_active = 0

    async def reload_module(self, name: str) -> None:
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            await asyncio.sleep(self._delay_s)
            await self._client.reload_module(name)
        finally:
            self.active -= 1

    async def get_endpoint(self, tech: str, resource: str) -> Endpoint:
        return await self._client.get_endpoint(tech, resource)


async def test_reloads_never_overlap_and_late_changes_get_their_own_reload(
    ari: AriClient, tmp_path: Path
) -> None:
    slow = SlowReloads(ari, delay_s=0.3)
    trunks: list[Trunk] = [IP_TRUNK]
    calls, load = _loader(trunks)
    coordinator = ReloadCoordinator(slow, tmp_path, load, not_found=NOT_FOUND, debounce_s=0.05)
    try:
        first = asyncio.create_task(coordinator.request_reload())
        for _ in range(500):  # wait until the first reload is inside Asterisk
            if slow.active:
                break
            await asyncio.sleep(0.01)
        trunks.append(REGISTRATION_TRUNK)
        second = asyncio.create_task(coordinator.request_reload())
        third = asyncio.create_task(coordinator.request_reload())
        one, two, three = await asyncio.gather(first, second, third)
        assert one.ok and two.ok and two is three
        assert one.endpoints == (object_names(IP_TRUNK).endpoint,)
        assert len(two.endpoints) == 2
        assert slow.max_active == 1
        assert coordinator.reloads_started == 2 and len(calls) == 2
    finally:
        await coordinator.close()


class BusyFirst:
    """The real client, but Asterisk answers the first `busy` reloads with 409."""

    def __init__(self, client: AriClient, busy: int) -> None:
        self._client = client
        self.busy_left = busy

    async def reload_module(self, name: str) -> None:
        if self.busy_left:
            self.busy_left -= 1
            path = f"/asterisk/modules/{name}"
            raise Conflict(409, "Another reload is currently in progress", "PUT", path)
        await self._client.reload_module(name)

    async def get_endpoint(self, tech: str, resource: str) -> Endpoint:
        return await self._client.get_endpoint(tech, resource)


async def test_reload_busy_is_retried(
    asterisk: FakeAsterisk, ari: AriClient, tmp_path: Path
) -> None:
    busy = BusyFirst(ari, busy=2)
    result = await apply_trunks(
        busy, tmp_path, [IP_TRUNK], not_found=NOT_FOUND, busy=(Conflict,), busy_retry_s=(0, 0)
    )
    assert result.ok
    assert asterisk.reloads == ["res_pjsip.so", "pbx_config.so"]


async def test_reload_busy_for_too_long_fails_with_files_restored(
    ari: AriClient, tmp_path: Path
) -> None:
    busy = BusyFirst(ari, busy=10)
    result = await apply_trunks(
        busy, tmp_path, [IP_TRUNK], not_found=NOT_FOUND, busy=(Conflict,), busy_retry_s=(0,)
    )
    assert result.outcome == "failed"
    assert result.reason is not None and "Another reload is currently in progress" in result.reason
    assert _snapshot(tmp_path) == {}
