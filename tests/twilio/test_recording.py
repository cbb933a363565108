"""Twilio calls recorded like Asterisk calls: the caller on the left and, on the right, what
the caller heard of the agent (the welcome cut where the caller barged in), stored as FLAC
and named in the call record."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import numpy as np
import pytest
from redis.asyncio import Redis

from ari_app.recording import CallRecordings, LocalRecordingStore
from store.repositories.calls import CallRepository
from store.repositories.config import AgentRepository
from tests.fakes.twilio import FakeTwilio, MediaStreamCaller
from tests.pipeline.memory_leg import silence_pcm, speech_pcm
from tests.recordings.audio import WINDOW_S, first_loud_s, loud_seconds, loud_windows, read_stereo
from tests.recordings.records import files_under
from tests.twilio.harness import Tenancy, TwilioProcess, make_twilio_agent
from tests.twilio.util import eventually, quiet

# FakeTTS speaks 40 ms per character: this welcome lasts about 7 s unless interrupted.
LONG_WELCOME = "Hello and welcome to the test agent, " * 5
CALLER_SPEECH_MS = 800


@pytest.fixture
def recordings_dir(tmp_path: Path) -> Path:
    return tmp_path / "recordings"


@pytest.fixture
async def recorded_proc(
    fake: FakeTwilio, pg_pool: asyncpg.Pool, redis: Redis, recordings_dir: Path
) -> AsyncIterator[TwilioProcess]:
    recordings = CallRecordings(LocalRecordingStore(recordings_dir), recordings_dir / "spool")
    process = TwilioProcess(
        fake, pg_pool, redis, welcome=LONG_WELCOME, welcome_interruptible=True,
        stt_script=["wait a moment please"], llm_replies=["Sure, take your time."],
        recordings=recordings,
    )  # fmt: skip
    await process.start()
    yield process
    await process.stop()
    await recordings.close()


async def recorded_agent(
    pool: asyncpg.Pool, proc: TwilioProcess, fake: FakeTwilio, *, recording: bool
) -> Tenancy:
    agent = await make_twilio_agent(pool, proc.box, fake)
    await AgentRepository(pool).update(
        agent.tenant_id, agent.agent_id, {"recording_enabled": recording}
    )
    return agent


async def call_in(fake: FakeTwilio, proc: TwilioProcess, agent: Tenancy) -> MediaStreamCaller:
    """A caller dials the agent's number; returns their stream once it is up."""
    call = await fake.inbound_call(proc.voice_url, from_="+15557654321", to=agent.did)
    await asyncio.wait_for(call.stream_ready.wait(), 5)
    assert call.stream is not None
    return call.stream


async def finished_record_path(pool: asyncpg.Pool, agent: Tenancy) -> str | None:
    repo = CallRepository(pool)
    for _ in range(200):
        page = await repo.list_page(agent.tenant_id)
        if page.items and page.items[0].status == "completed":
            return page.items[0].recording_path
        await asyncio.sleep(0.05)
    raise TimeoutError("the call was never recorded as completed")


async def test_twilio_call_is_recorded_with_the_cut_at_barge_in(
    fake: FakeTwilio, recorded_proc: TwilioProcess, pg_pool: asyncpg.Pool, recordings_dir: Path
) -> None:
    agent = await recorded_agent(pg_pool, recorded_proc, fake, recording=True)
    stream = await call_in(fake, recorded_proc, agent)
    await eventually(lambda: stream.heard_ms >= 1500)  # a second and a half into the welcome...
    stream.say(speech_pcm(CALLER_SPEECH_MS) + silence_pcm(600))  # ...the caller barges in
    await eventually(lambda: bool(stream.log.clears), timeout_s=5)
    await eventually(lambda: len(recorded_proc.llms[0].requests) == 1)
    heard = stream.heard_ms
    await eventually(lambda: stream.heard_ms >= heard + 500)  # the reply...
    await quiet(stream)  # ...to its end
    await stream.hang_up()

    location = await finished_record_path(pg_pool, agent)
    assert location is not None and location.endswith(".flac")
    assert not files_under(recordings_dir / "spool"), "the spooled WAV is removed"
    data, rate = read_stereo(recordings_dir / location)
    left, right = loud_windows(data[:, 0], rate), loud_windows(data[:, 1], rate)
    assert loud_seconds(left) == pytest.approx(CALLER_SPEECH_MS / 1000, abs=0.25)
    caller_onset = first_loud_s(left)
    assert 1.2 <= caller_onset - first_loud_s(right) <= 3.0
    # What the caller heard: the welcome up to the barge-in, then the reply, never the ~7 s
    # of welcome that was synthesised.
    assert loud_seconds(right) < 5.0
    onset = int(caller_onset / WINDOW_S)
    assert right[onset - 3 : onset].all(), "the agent was talking when the caller started"
    assert not right[onset + 5 : onset + 8].any(), "the agent stopped at the barge-in"
    assert right[onset + 8 :].any(), "the reply follows the caller's turn"
    assert np.abs(data[:, 1]).max() > 0


async def test_recording_off_leaves_no_file(
    fake: FakeTwilio, recorded_proc: TwilioProcess, pg_pool: asyncpg.Pool, recordings_dir: Path
) -> None:
    agent = await recorded_agent(pg_pool, recorded_proc, fake, recording=False)
    stream = await call_in(fake, recorded_proc, agent)
    await eventually(lambda: stream.heard_ms >= 500)
    await stream.hang_up()
    assert await finished_record_path(pg_pool, agent) is None
    assert not files_under(recordings_dir)
