"""A process killed mid-call leaves a playable recording missing at most a couple of seconds,
and the next process links it to the call's record."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from ari_app.recording import CallRecordings, LocalRecordingStore
from ari_app.recording_recovery import recover_spooled
from store.models import CallRecord
from store.repositories.calls import CallRepository
from store.repositories.tenants import TenantsRepository
from tests.recordings.audio import loud_seconds, loud_windows, read_stereo

REPO_ROOT = Path(__file__).resolve().parents[2]
# What a kill may lose: the block not yet flushed (1 s) plus the settle margin (0.2 s), plus
# slack for a loaded machine.
MAX_LOST_S = 2.0


async def record_until_killed(path: Path, after_s: float = 2.0) -> float:
    """Run a recording process, SIGKILL it; returns how long it had been recording."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.recordings.record_until_killed",
        str(path),
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        assert line.strip() == b"recording"
        started = time.monotonic()
        await asyncio.sleep(after_s)
    finally:
        process.send_signal(signal.SIGKILL)
        await process.wait()
    return 1.5 + (time.monotonic() - started)


async def test_killed_recorder_leaves_a_playable_partial_file(tmp_path: Path) -> None:
    path = tmp_path / "spool" / "call.wav"
    ran_s = await record_until_killed(path)
    data, rate = read_stereo(path)  # libsndfile opens it: the header matches the data
    seconds = len(data) / rate
    assert ran_s - MAX_LOST_S <= seconds <= ran_s + 0.1
    left, right = loud_windows(data[:, 0], rate), loud_windows(data[:, 1], rate)
    assert loud_seconds(left) >= seconds - 0.2  # the caller's steady tone
    assert 0.3 * seconds <= loud_seconds(right) <= 0.7 * seconds  # the agent, every other second


async def test_a_dead_process_recording_is_recovered_into_its_call(
    tmp_path: Path, pg_pool: asyncpg.Pool
) -> None:
    tenant = await TenantsRepository(pg_pool).create(f"crash-{uuid.uuid4().hex[:8]}")
    call_id = uuid.uuid4()
    await CallRepository(pg_pool).upsert(
        CallRecord(
            id=call_id,
            tenant_id=tenant.id,
            direction="outbound",
            status="queued",
            queued_at=datetime.now(UTC),
        )
    )
    root = tmp_path / "recordings"
    recordings = CallRecordings(LocalRecordingStore(root), root / "spool")
    spooled = recordings.spool_dir / str(tenant.id) / f"{call_id}.wav"
    live = recordings.spool_dir / str(tenant.id) / f"{uuid.uuid4()}.wav"
    try:
        await record_until_killed(spooled, after_s=1.0)
        partial, _ = read_stereo(spooled)
        live.write_bytes(spooled.read_bytes())
        # A file still being written (fresh) is left alone; an abandoned one is recovered.
        assert await recover_spooled(recordings, pg_pool, idle_s=60) == 0
        assert await recover_spooled(recordings, pg_pool, idle_s=0) == 1
    finally:
        await recordings.close()
    record = await CallRepository(pg_pool).get(tenant.id, call_id)
    assert record is not None and record.recording_path == f"{tenant.id}/{call_id}.flac"
    recovered, _ = read_stereo(root / record.recording_path)
    assert (recovered == partial).all()
    assert not spooled.exists()
    assert live.exists(), "no record for this call: it stays in the spool"
