"""What the calls-per-core benches share (a helper, not a benchmark: the leading underscore
keeps it out of `python -m bench`): pinned server and client processes, the paced
client send loop, and the measurements they report (server CPU, wait, RSS; intervals
between a call's echoed frames as the client sees them).

The server process prints one JSON line when it is ready and one with its own figures when it
gets SIGTERM; the client process prints one JSON line of interval figures when it is done.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

import numpy as np

SERVER_CPU = 0
CLIENT_CPU = 1
WARMUP_S = 3.0  # connect, fill the pipelines, let the allocator settle
LATE_INTERVAL_S = 0.040
# Frames the echo still holds when the client stops: ~1.5 in the low-latency resampler, up to
# 5 (100 ms) in the FFT one, plus a couple in flight.
DELAY_FRAMES_ALLOWED = 10
FRAME_S = 0.020
# Calls start in this many groups 5 ms apart, like calls that did not all start at once.
SEND_GROUPS = 4
GROUP_SPACING_S = 0.005

C = TypeVar("C")


def install_uvloop() -> str:
    """Run on uvloop when it is installed (as in production); the loop's name."""
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    uvloop.install()
    return "uvloop"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_delay_s(pid: int) -> float:
    """Time the process spent runnable but waiting for a CPU (other load on the machine)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{tid}/schedstat") as f:
            total += int(f.read().split()[1])
    return total / 1e9


def rss_bytes(pid: int) -> int:
    """The process's resident memory."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def add_nice_argument(parser: argparse.ArgumentParser) -> None:
    """`--nice`, the niceness `measure_step` runs server and client with."""
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="niceness for server and client (negative needs root): on a shared machine it "
        "gives the pinned processes their cores back, so the figures show the code, not the load",
    )


def measure_step(
    module: str,
    nice: int,
    server_args: list[str],
    client_args: Callable[[dict[str, Any]], list[str]],
    calls: int,
    seconds: float,
) -> dict[str, Any]:
    """Run one server/client pair (`python -m module _server|_client args`, see `run_role`)
    and measure the server over the window after the warm-up; `client_args` builds the
    client's from the server's ready line. The client's and the server's JSON figures are
    merged into the result."""
    me = [sys.executable, "-m", module]
    if nice:
        me = ["nice", "-n", str(nice), *me]
    server = subprocess.Popen([*me, "_server", *server_args], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        ready = json.loads(server.stdout.readline())
        rss_idle = rss_bytes(server.pid)
        client = subprocess.Popen(
            [*me, "_client", *client_args(ready)], stdout=subprocess.PIPE, text=True
        )
        time.sleep(WARMUP_S)
        cpu0, wait0, t0 = cpu_seconds(server.pid), run_delay_s(server.pid), time.monotonic()
        time.sleep(max(1.0, seconds - WARMUP_S - 0.5))
        cpu1, wait1, t1 = cpu_seconds(server.pid), run_delay_s(server.pid), time.monotonic()
        rss_busy = rss_bytes(server.pid)
        out, _ = client.communicate(timeout=seconds + 120)
        client_stats = json.loads(out.strip().splitlines()[-1])
        server.send_signal(signal.SIGTERM)
        server_stats = json.loads(server.stdout.readline())
        server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
    return {
        "calls": calls,
        "loop": ready["loop"],
        "cpu_pct": 100 * (cpu1 - cpu0) / (t1 - t0),
        "cpu_wait_pct": 100 * (wait1 - wait0) / (t1 - t0),
        "rss_per_call_kib": (rss_busy - rss_idle) / calls / 1024,
        "rss_mib": rss_busy / 2**20,
        **client_stats,
        "server": server_stats,
    }


async def send_paced(
    callers: Sequence[C], frames: int, send_group: Callable[[Sequence[C], int], Awaitable[None]]
) -> tuple[float, int]:
    """Send frame 0..`frames`-1 to every caller every 20 ms, in groups a few ms apart; the
    start time and how many group sends were over a frame late (the client's own lag)."""
    groups = [callers[g::SEND_GROUPS] for g in range(SEND_GROUPS)]
    start = time.monotonic()
    late_sends = 0
    for i in range(frames):
        for g, group in enumerate(groups):
            deadline = start + i * FRAME_S + g * GROUP_SPACING_S
            delay = deadline - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -FRAME_S:
                late_sends += 1
            await send_group(group, i)
    return start, late_sends


def interval_stats(
    arrivals: Sequence[Sequence[float]], frames: int, wall_from: float
) -> dict[str, Any]:
    """Intervals between consecutive arrivals of each call from `wall_from` on, and the
    frames lost beyond what the pipeline may still hold."""
    intervals: list[np.ndarray] = []
    missing = 0
    for times in arrivals:
        ts = np.asarray(times)
        missing += max(0, frames - len(ts) - DELAY_FRAMES_ALLOWED)
        window = ts[ts >= wall_from]
        if len(window) > 1:
            intervals.append(np.diff(window))
    allint = np.concatenate(intervals) if intervals else np.zeros(1)
    return {
        "sent_per_call": frames,
        "p50_ms": float(np.percentile(allint, 50) * 1000),
        "p99_ms": float(np.percentile(allint, 99) * 1000),
        "max_ms": float(allint.max() * 1000),
        "late": int((allint > LATE_INTERVAL_S).sum()),
        "intervals": int(allint.size),
        "missing": missing,
    }


def run_role(
    serve: Callable[[list[str], str], Coroutine[Any, Any, None]],
    play: Callable[[list[str]], Coroutine[Any, Any, None]],
) -> bool:
    """Be the pinned `_server` (`serve(args, loop name)`) or `_client` (`play(args)`) process
    `measure_step` started, if the command line says so; False when it is the bench itself."""
    role, args = sys.argv[1:2], sys.argv[2:]
    if role == ["_server"]:
        os.sched_setaffinity(0, {SERVER_CPU})
        asyncio.run(serve(args, install_uvloop()))
    elif role == ["_client"]:
        os.sched_setaffinity(0, {CLIENT_CPU})
        install_uvloop()
        asyncio.run(play(args))
    else:
        return False
    return True
