"""How a step's figures are computed from what callers observed (synthetic observations)."""

from __future__ import annotations

import os
import socket

import pytest
from aiohttp import web

from vocals.loadtest.config import LoadTestConfig, ProviderLatencies
from vocals.loadtest.measure import CallLog, StepReport, StepSamples, Utterance, percentile
from vocals.loadtest.probe import MetricsProbe, find_listening_pid
from vocals.loadtest.runner import LoadTestError, check_targets, is_loopback


def frames(start: float, count: int, step: float = 0.02) -> list[float]:
    return [start + i * step for i in range(count)]


def test_gaps_and_holes_only_within_a_reply() -> None:
    log = CallLog()
    reply1 = frames(10.0, 50)  # 1 s of agent audio
    reply1[30:] = [t + 0.1 for t in reply1[30:]]  # one 120 ms gap: a 100 ms hole
    log.utterances.append(Utterance(onset=11.5, end=13.0))
    reply2 = frames(14.0, 50)
    log.agent_frames = reply1 + reply2
    samples = StepSamples()
    samples.add(log, 0.0, 100.0)
    assert len(samples.gaps_ms) == 98  # 49 per reply; the silence between replies is no gap
    assert max(samples.gaps_ms) == pytest.approx(120)
    assert samples.hole_ms == pytest.approx(100)
    assert samples.agent_audio_ms == 2000
    assert samples.responses_ms == [pytest.approx(1000)]


def test_barge_in_is_onset_to_last_agent_frame() -> None:
    log = CallLog()
    log.agent_frames = frames(10.0, 40)  # the agent talks from 10.0 ...
    log.utterances.append(Utterance(onset=10.5, end=12.0, barge_in=True))  # ... stops at 10.78
    log.agent_frames += frames(13.0, 10)
    samples = StepSamples()
    samples.add(log, 0.0, 100.0)
    assert samples.barge_ins_ms == [pytest.approx(280)]
    assert samples.errors == {}


def test_an_ignored_barge_in_is_an_error() -> None:
    log = CallLog()
    log.agent_frames = frames(10.0, 200)  # the agent talks on through the caller
    log.utterances.append(Utterance(onset=10.5, end=12.0, barge_in=True))
    samples = StepSamples()
    samples.add(log, 0.0, 100.0)
    assert samples.barge_ins_ms == []
    assert samples.errors == {"barge-in ignored": 1}


def test_only_the_window_counts() -> None:
    log = CallLog()
    log.agent_frames = frames(1.0, 10) + frames(20.0, 10)
    log.utterances.append(Utterance(onset=2.0, end=3.0))
    log.error(1.5, "no answer")
    samples = StepSamples()
    samples.add(log, 10.0, 30.0)
    assert samples.responses_ms == [] and samples.errors == {}
    assert samples.agent_audio_ms == 200


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile([], 50) is None


def test_report_subtracts_the_configured_latency() -> None:
    samples = StepSamples(responses_ms=[1300.0, 1400.0])
    report = StepReport.build(
        calls=1,
        connected=1,
        seconds=10,
        samples=samples,
        configured_response_ms=1240,
        server_cpu_percent=None,
        server_rss_mb=None,
        client_cpu_percent=None,
        client_lag_events=0,
    )
    assert report.added_p50_ms == pytest.approx(60)
    assert report.added_p99_ms == pytest.approx(160)


def test_configured_latency_of_the_defaults() -> None:
    # end of speech 500 + STT 300 + first token 200 + 7 more tokens until the first sentence
    # is certain x 20 + TTS first audio 100
    assert ProviderLatencies().configured_response_ms(500) == 1240
    assert LoadTestConfig().latencies.reply_sentences() == 2


def test_offline_models_count_as_the_servers_own_latency() -> None:
    config = LoadTestConfig(providers="offline", end_of_speech_ms=700)
    assert config.configured_response_ms() == 700  # only the silence the agent waits for


def test_a_caller_heard_every_reply_unless_one_was_missing() -> None:
    answered, unanswered, never = CallLog(connected_at=1.0), CallLog(connected_at=1.0), CallLog()
    answered.error(5.0, "barge-in ignored")  # heard, though it could not interrupt
    unanswered.error(5.0, "no answer")
    assert answered.heard_every_reply
    assert not unanswered.heard_every_reply and not never.heard_every_reply


def test_only_loopback_targets_unless_allowed() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost")
    assert not is_loopback("192.0.2.1")
    check_targets(["http://127.0.0.1:8000"], allow_remote=False)
    with pytest.raises(LoadTestError, match="--allow-remote"):
        check_targets(["http://192.0.2.1:8000"], allow_remote=False)
    check_targets(["http://192.0.2.1:8000"], allow_remote=True)


def test_config_bounds() -> None:
    with pytest.raises(ValueError, match="between 1 and"):
        LoadTestConfig(steps=())
    with pytest.raises(ValueError, match="between 1 and"):
        LoadTestConfig(steps=(0,))


def test_the_server_pid_is_found_by_its_listening_port() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        assert find_listening_pid(listener.getsockname()[1]) == os.getpid()


async def test_cpu_and_rss_from_prometheus_metrics() -> None:
    async def metrics(request: web.Request) -> web.Response:
        calls.append(request.path)
        return web.Response(
            text="# HELP x\nprocess_cpu_seconds_total 12.5\nprocess_resident_memory_bytes "
            "104857600.0\nother 1\n"
        )

    calls: list[str] = []
    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        sample = await MetricsProbe(f"http://127.0.0.1:{port}").sample()
    finally:
        await runner.cleanup()
    assert sample is not None and calls == ["/metrics"]
    assert sample.cpu_s == 12.5 and sample.rss_mb == 100.0
    assert await MetricsProbe(f"http://127.0.0.1:{port}").sample() is None  # gone: no figure
