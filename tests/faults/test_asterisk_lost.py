"""Asterisk dies mid-call (kill -9: media sockets reset, events socket gone, ARI refusing):
the record says so. On a real Asterisk 22.10.1 such calls were recorded as a normal
caller hang-up with no error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from tests.faults.harness import FaultRig, until


@pytest.fixture
async def rig(database_url: str, redis_url: str, tmp_path: Path) -> AsyncIterator[FaultRig]:
    rig = FaultRig(database_url, redis_url, tmp_path)
    yield rig
    await rig.close()


async def test_a_call_that_loses_asterisk_is_recorded_as_an_error(rig: FaultRig) -> None:
    await rig.start()
    await rig.place_live_calls(1)
    assert rig.sim is not None
    await rig.sim.stop()

    async def recorded() -> bool:
        return bool(await rig.record_ids())

    await until("the call's record", recorded)
    conn = await asyncpg.connect(rig.database_url)
    try:
        row = await conn.fetchrow(
            "SELECT status, outcome, error_reason FROM calls WHERE to_number = $1", rig.did
        )
    finally:
        await conn.close()
    assert row is not None
    assert (row["status"], row["outcome"]) == ("completed", "error")
    assert "Asterisk went away" in (row["error_reason"] or "")
