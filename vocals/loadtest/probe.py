"""The server's CPU and memory while a step runs, from /proc (pid given or found by port).

A process's CPU % is its user+system time over wall time (100 % = one core busy), from
/proc/<pid>/stat; RSS from /proc/<pid>/status. "Wait %" is the time its main thread was
runnable but waiting for a CPU (/proc/<pid>/schedstat): on a shared machine, other processes
took the core, and audio pacing suffers although the server itself is not busy. When no pid
is known (a server in another container) the Prometheus `/metrics` process collector gives
CPU and RSS. Child processes (model workers) are sampled apart from the server's own process.

The server's event-loop lag is read from its `/metrics` (`LagProbe`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Final

import httpx

_TICKS: Final = os.sysconf("SC_CLK_TCK")
_LISTEN: Final = "0A"


def find_listening_pid(port: int) -> int | None:
    """The pid of a process of ours listening on TCP `port` (IPv4 or IPv6), if any."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == _LISTEN and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{inode}]")
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    return int(proc.name)
        except OSError:
            continue
    return None


def _cpu_seconds(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime


def _descendants(pid: int) -> list[int]:
    """Every live process below `pid` (model workers and their children)."""
    parents: dict[int, int] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        parents[int(proc.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


def children_cpu_seconds(pid: int) -> float:
    """CPU time of `pid`'s live descendants (a child that exited meanwhile is not counted)."""
    total = 0.0
    for child in _descendants(pid):
        try:
            total += _cpu_seconds(child)
        except (OSError, ValueError, IndexError):
            continue
    return total


def _wait_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/schedstat").read_text().split()
    except OSError:
        return None
    return int(fields[1]) / 1e9


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Sample:
    """CPU time and RSS of one process (and the CPU time of its children) at one moment."""

    def __init__(
        self,
        wall: float,
        cpu_s: float,
        rss_mb: float,
        wait_s: float | None = None,
        children_cpu_s: float | None = None,
    ) -> None:
        self.wall = wall
        self.cpu_s = cpu_s
        self.rss_mb = rss_mb
        self.wait_s = wait_s
        self.children_cpu_s = children_cpu_s

    def cpu_percent_since(self, earlier: Sample) -> float:
        wall = self.wall - earlier.wall
        return 100 * (self.cpu_s - earlier.cpu_s) / wall if wall > 0 else 0.0

    def children_cpu_percent_since(self, earlier: Sample) -> float | None:
        wall = self.wall - earlier.wall
        if self.children_cpu_s is None or earlier.children_cpu_s is None or wall <= 0:
            return None
        return 100 * max(0.0, self.children_cpu_s - earlier.children_cpu_s) / wall

    def wait_percent_since(self, earlier: Sample) -> float | None:
        wall = self.wall - earlier.wall
        if self.wait_s is None or earlier.wait_s is None or wall <= 0:
            return None
        return 100 * (self.wait_s - earlier.wait_s) / wall


class ProcessProbe:
    """Samples one local process by pid."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    async def sample(self) -> Sample | None:
        try:
            return Sample(
                time.monotonic(),
                _cpu_seconds(self.pid),
                _rss_mb(self.pid),
                _wait_seconds(self.pid),
                children_cpu_seconds(self.pid),
            )
        except (OSError, ValueError, IndexError):
            return None


class MetricsProbe:
    """Samples a server through its Prometheus `/metrics` (process collector)."""

    def __init__(self, base_url: str) -> None:
        self._url = base_url.rstrip("/") + "/metrics"

    async def sample(self) -> Sample | None:
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                response = await client.get(self._url)
            response.raise_for_status()
        except httpx.HTTPError:
            return None
        values: dict[str, float] = {}
        for line in response.text.splitlines():
            name, _, value = line.partition(" ")
            if name in ("process_cpu_seconds_total", "process_resident_memory_bytes"):
                values[name] = float(value)
        if len(values) < 2:
            return None
        return Sample(
            time.monotonic(),
            values["process_cpu_seconds_total"],
            values["process_resident_memory_bytes"] / 2**20,
        )


LAG_METRIC: Final = "vocals_event_loop_lag_max_seconds"


class LagProbe:
    """The server's highest recent event-loop lag, from its `/metrics` (the gauge covers the
    last 10 s, so polling every few seconds misses no stall)."""

    def __init__(self, base_url: str) -> None:
        self._url = base_url.rstrip("/") + "/metrics"

    async def max_lag_ms(self) -> float | None:
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                response = await client.get(self._url)
            response.raise_for_status()
        except httpx.HTTPError:
            return None
        for line in response.text.splitlines():
            name, _, value = line.partition(" ")
            if name == LAG_METRIC:
                return float(value) * 1000
        return None
