"""`StereoRecorder` on a simulated clock: each direction lands on its own channel at its time,
silence fills what was never sent, and the WAV on disk is valid while it is being written."""

from __future__ import annotations

import wave
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from media.formats import SLIN_8K, ULAW_8K, AudioFormat
from media.g711 import ulaw_encode
from media.recorder import StereoRecorder
from tests.fakes.asterisk.caller import tone
from tests.recordings.audio import first_loud_s, loud_seconds, loud_windows, read_stereo

FRAME_S = 0.02


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=1)
    yield pool
    pool.shutdown(wait=True)


def frames(pcm: bytes, fmt: AudioFormat) -> list[bytes]:
    wire = ulaw_encode(pcm) if fmt is ULAW_8K else pcm
    return [wire[i : i + fmt.frame_bytes] for i in range(0, len(wire), fmt.frame_bytes)]


@pytest.mark.parametrize("fmt", [SLIN_8K, ULAW_8K])
def test_each_direction_on_its_channel_at_its_time(
    tmp_path: Path, executor: ThreadPoolExecutor, fmt: AudioFormat
) -> None:
    clock = Clock()
    path = tmp_path / "call.wav"
    recorder = StereoRecorder(fmt, path, executor, clock=clock)
    caller_tone = frames(tone(300, 0.5), fmt)
    agent_tone = frames(tone(700, 1.0), fmt)
    caller_silence = frames(bytes(320), fmt)[0]
    for tick in range(150):  # 3 s
        clock.now += FRAME_S
        t = tick * FRAME_S
        # The caller's side sends all the time; the agent's only while it talks.
        recorder.inbound(caller_tone[tick - 25] if 25 <= tick < 50 else caller_silence)
        if 50 <= tick < 100:
            recorder.outbound(agent_tone[tick - 50])
        assert recorder.written_s <= t
    recorder.close().result()
    data, rate = read_stereo(path)
    assert rate == 8000
    assert abs(len(data) / rate - 3.0) < 0.05
    left, right = loud_windows(data[:, 0], rate), loud_windows(data[:, 1], rate)
    assert first_loud_s(left) == pytest.approx(0.5, abs=0.11)
    assert loud_seconds(left) == pytest.approx(0.5, abs=0.11)
    assert first_loud_s(right) == pytest.approx(1.0, abs=0.11)
    assert loud_seconds(right) == pytest.approx(1.0, abs=0.11)
    assert not right[25:].any() and not left[10:].any()


def test_jitter_is_absorbed_and_a_real_gap_is_kept(
    tmp_path: Path, executor: ThreadPoolExecutor
) -> None:
    clock = Clock()
    path = tmp_path / "call.wav"
    recorder = StereoRecorder(SLIN_8K, path, executor, clock=clock)
    burst = frames(tone(500, 2.0), SLIN_8K)
    sent = 0
    for tick in range(50):  # 1 s of agent audio, late by 60 ms every 4th frame then caught up
        clock.now += FRAME_S
        due = tick + 1
        if tick % 4 != 3:
            while sent < due:
                recorder.outbound(burst[sent])
                sent += 1
    clock.now += 0.5  # the agent stops talking for half a second
    for _ in range(25):
        clock.now += FRAME_S
        recorder.outbound(burst[sent])
        sent += 1
    recorder.close().result()
    data, rate = read_stereo(path)
    right = loud_windows(data[:, 1], rate)
    assert right[:10].all(), "jitter must not leave holes"
    assert not right[10:15].any(), "the half-second pause is kept"
    assert right[15:20].all()
    assert len(data) / rate == pytest.approx(2.0, abs=0.05)


def test_the_file_is_a_valid_wav_while_the_call_runs(
    tmp_path: Path, executor: ThreadPoolExecutor
) -> None:
    clock = Clock()
    path = tmp_path / "call.wav"
    recorder = StereoRecorder(SLIN_8K, path, executor, clock=clock)
    caller = frames(tone(300, 5.0), SLIN_8K)
    for tick in range(200):  # 4 s
        clock.now += FRAME_S
        recorder.inbound(caller[tick])
    executor.submit(lambda: None).result()  # the writes handed over so far are done
    with wave.open(str(path), "rb") as partial:
        assert (partial.getnchannels(), partial.getsampwidth()) == (2, 2)
        seconds = partial.getnframes() / partial.getframerate()
    # Written once a second, each time up to 200 ms before then.
    assert 2.5 <= seconds <= 4.0
    assert seconds == pytest.approx(recorder.written_s)
    recorder.close().result()
    data, rate = read_stereo(path)
    assert len(data) / rate == pytest.approx(4.0, abs=0.03)


def test_an_unwritable_path_fails_the_recording_not_the_call(
    tmp_path: Path, executor: ThreadPoolExecutor
) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    recorder = StereoRecorder(SLIN_8K, blocker / "call.wav", executor, clock=Clock())
    recorder.inbound(bytes(320))
    recorder.close().result()
    assert isinstance(recorder.failed, OSError)
