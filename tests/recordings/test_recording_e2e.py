"""Calls over the fake Asterisk with the agent's recording on and off: the stored file holds
the caller on the left and, on the right, exactly what the caller heard of the agent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import numpy as np
import pytest
from redis.asyncio import Redis

from ari_app.ports import MediaTransport
from ari_app.recording import CallRecordings, LocalRecordingStore
from media.rtp import RtpPortPool
from store.repositories.calls import CallRepository
from tests.ari.harness import eventually
from tests.fakes.asterisk import FakeAsterisk
from tests.pipeline.memory_leg import silence_pcm, speech_pcm
from tests.recordings.audio import (
    WINDOW_S,
    first_loud_s,
    loud_seconds,
    loud_windows,
    read_stereo,
)
from tests.recordings.harness import RecordingProcess, make_recorded_agent
from tests.recordings.records import files_under

# FakeTTS speaks 40 ms per character: this welcome lasts about 7 s unless interrupted.
LONG_WELCOME = "Hello and welcome to the test agent, " * 5
CALLER_SPEECH_MS = 800


@pytest.fixture
async def fake() -> AsyncIterator[FakeAsterisk]:
    server = FakeAsterisk()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def recordings_dir(tmp_path: Path) -> Path:
    return tmp_path / "recordings"


@pytest.fixture
async def recordings(recordings_dir: Path) -> AsyncIterator[CallRecordings]:
    service = CallRecordings(LocalRecordingStore(recordings_dir), recordings_dir / "spool")
    yield service
    await service.close()


@pytest.mark.parametrize("media", ["audiosocket", "rtp"])
async def test_recording_holds_caller_left_and_what_was_heard_of_the_agent_right(
    fake: FakeAsterisk,
    pg_pool: asyncpg.Pool,
    redis: Redis,
    recordings: CallRecordings,
    recordings_dir: Path,
    media: MediaTransport,
) -> None:
    agent = await make_recorded_agent(pg_pool, recording=True)
    proc = RecordingProcess(
        fake,
        pg_pool,
        redis,
        welcome=LONG_WELCOME,
        stt_script=["wait a moment please"],
        llm_replies=["Sure, take your time."],
        recordings=recordings,
        route_media=media,
        rtp_pool=RtpPortPool(41200, 41300) if media == "rtp" else None,
    )
    await proc.start()
    try:
        caller = await fake.inbound_call(agent.did)
        await asyncio.wait_for(caller.answered.wait(), 5)
        await caller.wait_received(1500)  # a second and a half into the welcome...
        caller.play(speech_pcm(CALLER_SPEECH_MS) + silence_pcm(600))  # ...the caller barges in
        await eventually(lambda: len(proc.llms[0].requests) == 1)
        heard = caller.received_ms
        await caller.wait_received(heard + 500)  # the reply
        await caller.wait_quiet()
        await caller.hangup()
        assert proc.controller is not None
        await eventually(lambda: not proc.controller.sessions)  # type: ignore[union-attr]
    finally:
        await proc.stop()
    [record] = (await CallRepository(pg_pool).list_page(agent.tenant_id)).items
    assert record.recording_path == f"{agent.tenant_id}/{record.id}.flac"
    path = recordings_dir / record.recording_path
    assert not files_under(recordings_dir / "spool"), "the spooled WAV is removed"

    data, rate = read_stereo(path)
    left, right = loud_windows(data[:, 0], rate), loud_windows(data[:, 1], rate)
    # The caller's channel: their speech, once, well after the welcome started.
    assert loud_seconds(left) == pytest.approx(CALLER_SPEECH_MS / 1000, abs=0.25)
    agent_onset, caller_onset = first_loud_s(right), first_loud_s(left)
    assert 1.2 <= caller_onset - agent_onset <= 3.0
    # The agent's channel holds what the caller heard: the welcome cut at the barge-in, then
    # the reply; never the ~7 s of welcome that was synthesised.
    heard_pcm = np.frombuffer(bytes(caller.received), dtype="<i2")
    heard_loud = loud_seconds(loud_windows(heard_pcm, 8000))
    assert loud_seconds(right) == pytest.approx(heard_loud, abs=0.4)
    assert loud_seconds(right) < 5.0
    # The cut: within ~0.5 s of the caller's speech onset the agent's channel goes quiet and
    # stays quiet while the caller talks.
    onset = int(caller_onset / WINDOW_S)
    assert right[onset - 3 : onset].all(), "the agent was talking when the caller started"
    assert not right[onset + 5 : onset + 8].any(), "the agent stopped at the barge-in"
    # Before its end, the recording has the reply on the right after the caller's turn.
    assert right[onset + 8 :].any()


async def test_recording_off_leaves_no_file(
    fake: FakeAsterisk,
    pg_pool: asyncpg.Pool,
    redis: Redis,
    recordings: CallRecordings,
    recordings_dir: Path,
) -> None:
    agent = await make_recorded_agent(pg_pool, recording=False)
    proc = RecordingProcess(fake, pg_pool, redis, welcome="Hello.", recordings=recordings)
    await proc.start()
    try:
        caller = await fake.inbound_call(agent.did)
        await caller.wait_received(300)
        await caller.hangup()
        assert proc.controller is not None
        await eventually(lambda: not proc.controller.sessions)  # type: ignore[union-attr]
    finally:
        await proc.stop()
    [record] = (await CallRepository(pg_pool).list_page(agent.tenant_id)).items
    assert record.status == "completed"
    assert record.recording_path is None
    assert not files_under(recordings_dir)
