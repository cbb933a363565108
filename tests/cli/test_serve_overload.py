"""A real `vocals serve`: its capacity from VOCALS_MAX_CALLS on /healthz and /metrics, its
start-up objects frozen out of the garbage collector's full passes (one such pass over them
held the event loop 60-120 ms), and a stalled process (SIGSTOP, as when the machine's cores
are taken) seen as event-loop lag."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import REPO_ROOT
from tests.loadtest.test_loadtest_cli import server_env

SERVER_START_S = 60.0
STOP_S = 0.3
# Bounded waits for the server to see and export the stall.
SEEN_S = 10.0


def metrics(base: str) -> dict[str, float]:
    """The process's own gauges and counters by name (each has one sample here)."""
    text = httpx.get(f"{base}/metrics", timeout=5).text
    return {
        s.name: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith(("vocals_live", "vocals_max", "vocals_event_loop", "vocals_gc"))
    }


def test_capacity_and_a_stalled_loop_are_visible(database_url: str, redis_url: str) -> None:
    env = server_env(database_url, redis_url)
    env.update(VOCALS_MAX_CALLS="2", VOCALS_MAX_LOCAL_CALLS="1", VOCALS_LOG_FORMAT="json")
    base = env["VOCALS_PUBLIC_URL"]
    process = subprocess.Popen(
        [sys.executable, "-m", "vocals", "serve"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            assert process.poll() is None, "server exited"
            try:
                health = httpx.get(f"{base}/healthz", timeout=2).json()
                if health["extra"].get("greetings_ready"):
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        capacity = health["extra"]["capacity"]
        assert (capacity["max_calls"], capacity["max_local_calls"]) == (2, 1)
        assert capacity["live_calls"] == 0 and capacity["refused"] == {}
        assert "event_loop_lag_ms" in health["extra"]
        before = metrics(base)
        assert before["vocals_max_calls"] == 2 and before["vocals_live_calls"] == 0
        # Modules, routes and schemas: over 100 000 objects a full collection no longer walks.
        assert before["vocals_gc_frozen_objects"] > 100_000

        process.send_signal(signal.SIGSTOP)
        time.sleep(STOP_S)  # the stall itself, not a wait for something
        process.send_signal(signal.SIGCONT)
        deadline = time.monotonic() + SEEN_S
        stalls = "vocals_event_loop_stalls_total"
        while (after := metrics(base))[stalls] <= before[stalls]:
            assert time.monotonic() < deadline, "the stall was not seen"
            time.sleep(0.1)
        assert after["vocals_event_loop_lag_max_seconds"] >= STOP_S - 0.05
        assert after[stalls] == before[stalls] + 1  # one episode
    finally:
        process.send_signal(signal.SIGINT)
        try:
            _, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    logged = [e for e in lines if e.get("event", "").startswith("event loop lagging")]
    assert any(e["lag_ms"] >= (STOP_S - 0.05) * 1000 for e in logged), logged
