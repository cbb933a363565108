"""A normal stop (SIGTERM, as `docker stop`, systemd and Kubernetes send it) with live calls:
new calls are refused, live ones drained then ended, every record written, nothing left in
Asterisk or in Redis, exit code 0."""

from __future__ import annotations

import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.faults.harness import WAIT_S, FaultRig, until

LIVE_CALLS = 8


@pytest.fixture
async def rig(database_url: str, redis_url: str, tmp_path: Path) -> AsyncIterator[FaultRig]:
    rig = FaultRig(database_url, redis_url, tmp_path)
    yield rig
    await rig.close()


async def test_sigterm_drains_ends_and_records_every_live_call(rig: FaultRig) -> None:
    rig.use(shutdown_drain_s="2")
    server = await rig.start()
    await rig.place_live_calls(LIVE_CALLS)
    assert rig.sim is not None
    assert rig.sim.live_channels() == 2 * LIVE_CALLS  # each caller and its media channel

    started = time.monotonic()
    server.signal(signal.SIGTERM)
    await until("the server to drain", server.draining)
    refused = rig.sim.place_call(rig.did)
    assert await server.exit_code() == 0, server.log()
    stopped_s = time.monotonic() - started

    assert refused.ended.is_set() and not refused.media_up.is_set()
    assert all(call.ended.is_set() for call in rig.calls)
    assert (rig.sim.live_channels(), rig.sim.live_bridges()) == (0, 0)
    records = await rig.record_ids()
    assert len(records) == LIVE_CALLS, "records lost"
    assert await rig.live_entries(records) == 0
    # The server ended them, not their callers (as seen on a real Asterisk before the fix).
    assert await rig.outcomes() == {"stopped": LIVE_CALLS}
    assert stopped_s < 2 + WAIT_S / 3, stopped_s
    print(f"SIGTERM with {LIVE_CALLS} live calls: exit 0 in {stopped_s:.2f} s, "
          f"{len(records)}/{LIVE_CALLS} records")  # fmt: skip


async def test_a_second_signal_cuts_the_drain_short_and_still_records(rig: FaultRig) -> None:
    rig.use(shutdown_drain_s="600")
    server = await rig.start()
    await rig.place_live_calls(LIVE_CALLS)
    assert rig.sim is not None

    started = time.monotonic()
    server.signal(signal.SIGTERM)
    await until("the server to drain", server.draining)
    server.signal(signal.SIGINT)
    assert await server.exit_code() == 0, server.log()
    stopped_s = time.monotonic() - started

    assert stopped_s < WAIT_S, stopped_s
    assert (rig.sim.live_channels(), rig.sim.live_bridges()) == (0, 0)
    records = await rig.record_ids()
    assert len(records) == LIVE_CALLS, "records lost"
    assert await rig.live_entries(records) == 0
