"""What one simulated caller observed, and the figures a step of many calls gives.

Times are `time.monotonic()` on the caller's side: frame arrivals at the phone, the first and
last frame of each caller utterance leaving it. Only events inside a step's measurement
window (after the ramp) count, so call set-up bursts do not blur the steady state.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import Final

import msgspec

FRAME_MS: Final = 20.0
# A gap of two frame periods or more between agent frames means a frame was missing when the
# phone had to play it (no jitter buffer in chan_audiosocket); it counts as a playout hole of
# (gap - 20 ms). Shorter jitter is reported in the gap percentiles only.
HOLE_MIN_GAP_MS: Final = 40.0
# After a barge-in, the agent must have been quiet this long before the caller's utterance
# ended for the utterance to count as having interrupted it.
BARGE_QUIET_S: Final = 0.3
# What a caller notes when the agent left it without a reply (vocals/loadtest/caller.py).
MISSED_REPLY: Final = frozenset(
    {"not connected", "no greeting", "no answer", "ended by the server"}
)


@dataclass(slots=True)
class Utterance:
    onset: float
    end: float | None = None
    barge_in: bool = False


@dataclass(slots=True)
class CallLog:
    """One call's raw observations."""

    agent_frames: list[float] = field(default_factory=list)
    utterances: list[Utterance] = field(default_factory=list)
    errors: list[tuple[float, str]] = field(default_factory=list)
    connected_at: float | None = None

    def error(self, at: float, what: str) -> None:
        self.errors.append((at, what))

    @property
    def heard_every_reply(self) -> bool:
        """Connected, greeted and answered every time, from start to hang-up."""
        return self.connected_at is not None and not any(
            what in MISSED_REPLY for _, what in self.errors
        )


@dataclass(slots=True)
class StepSamples:
    """Everything a step's calls observed inside its window, pooled."""

    gaps_ms: list[float] = field(default_factory=list)
    hole_ms: float = 0.0
    agent_audio_ms: float = 0.0
    responses_ms: list[float] = field(default_factory=list)
    barge_ins_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def add(self, log: CallLog, start: float, end: float) -> None:
        frames = log.agent_frames
        # Caller utterances (their starts and ends) separate the agent's replies.
        edges = sorted(
            [u.onset for u in log.utterances] + [u.end or u.onset for u in log.utterances]
        )
        lo = bisect.bisect_left(frames, start)
        hi = bisect.bisect_right(frames, end)
        self.agent_audio_ms += (hi - lo) * FRAME_MS
        for i in range(max(lo, 1), hi):
            prev, cur = frames[i - 1], frames[i]
            if bisect.bisect_right(edges, prev) != bisect.bisect_right(edges, cur):
                continue
            gap = (cur - prev) * 1000
            self.gaps_ms.append(gap)
            if gap >= HOLE_MIN_GAP_MS:
                self.hole_ms += gap - FRAME_MS
        for u in log.utterances:
            if u.end is None or not start <= u.end <= end:
                continue
            j = bisect.bisect_right(frames, u.end)
            if j < len(frames):
                self.responses_ms.append((frames[j] - u.end) * 1000)
            if u.barge_in:
                self._barge_in(frames, u)
        for at, what in log.errors:
            if start <= at <= end:
                self.errors[what] = self.errors.get(what, 0) + 1

    def _barge_in(self, frames: list[float], u: Utterance) -> None:
        assert u.end is not None
        a = bisect.bisect_left(frames, u.onset)
        b = bisect.bisect_right(frames, u.end)
        if a == b:
            return  # the reply had ended before the caller spoke: nothing to interrupt
        last = frames[b - 1]
        if last <= u.end - BARGE_QUIET_S:
            self.barge_ins_ms.append((last - u.onset) * 1000)
        else:
            self.errors["barge-in ignored"] = self.errors.get("barge-in ignored", 0) + 1


def percentile(values: list[float], q: float) -> float | None:
    """The `q`-th percentile (nearest rank), or None with no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]


class StepReport(msgspec.Struct, kw_only=True):
    """One row of the table: a step of N concurrent calls."""

    calls: int
    connected: int
    # Callers greeted and answered every time they spoke, over their whole call.
    heard_every_reply: int
    seconds: float
    server_cpu_percent: float | None
    # CPU of the server's child processes (model workers), 100 = one core.
    server_children_cpu_percent: float | None
    # The server's highest event-loop lag in the window (its /metrics).
    server_lag_max_ms: float | None
    # Runnable but waiting for a CPU (other processes had the core): see probe.py.
    server_wait_percent: float | None
    server_rss_mb: float | None
    client_cpu_percent: float | None
    client_wait_percent: float | None
    gap_p50_ms: float | None
    gap_p99_ms: float | None
    gap_max_ms: float | None
    holes_ms_per_min: float | None
    response_p50_ms: float | None
    response_p99_ms: float | None
    configured_response_ms: int
    added_p50_ms: float | None
    added_p99_ms: float | None
    barge_in_p50_ms: float | None
    barge_in_p99_ms: float | None
    turns: int
    barge_ins: int
    errors: dict[str, int]
    client_lag_events: int

    @classmethod
    def build(
        cls,
        *,
        calls: int,
        connected: int,
        seconds: float,
        samples: StepSamples,
        heard_every_reply: int = 0,
        server_children_cpu_percent: float | None = None,
        server_lag_max_ms: float | None = None,
        configured_response_ms: int,
        server_cpu_percent: float | None,
        server_rss_mb: float | None,
        client_cpu_percent: float | None,
        client_lag_events: int,
        server_wait_percent: float | None = None,
        client_wait_percent: float | None = None,
    ) -> StepReport:
        def minus(v: float | None) -> float | None:
            return None if v is None else v - configured_response_ms

        gaps = samples.gaps_ms
        p50, p99 = percentile(samples.responses_ms, 50), percentile(samples.responses_ms, 99)
        holes = (
            samples.hole_ms / (samples.agent_audio_ms / 60_000) if samples.agent_audio_ms else None
        )
        return cls(
            calls=calls,
            connected=connected,
            heard_every_reply=heard_every_reply,
            seconds=seconds,
            server_cpu_percent=server_cpu_percent,
            server_children_cpu_percent=server_children_cpu_percent,
            server_lag_max_ms=server_lag_max_ms,
            server_wait_percent=server_wait_percent,
            server_rss_mb=server_rss_mb,
            client_cpu_percent=client_cpu_percent,
            client_wait_percent=client_wait_percent,
            gap_p50_ms=percentile(gaps, 50),
            gap_p99_ms=percentile(gaps, 99),
            gap_max_ms=max(gaps) if gaps else None,
            holes_ms_per_min=holes,
            response_p50_ms=p50,
            response_p99_ms=p99,
            configured_response_ms=configured_response_ms,
            added_p50_ms=minus(p50),
            added_p99_ms=minus(p99),
            barge_in_p50_ms=percentile(samples.barge_ins_ms, 50),
            barge_in_p99_ms=percentile(samples.barge_ins_ms, 99),
            turns=len(samples.responses_ms),
            barge_ins=len(samples.barge_ins_ms),
            errors=dict(samples.errors),
            client_lag_events=client_lag_events,
        )


_COLUMNS: Final = (
    ("calls", 5),
    ("heard", 5),
    ("cpu%", 5),
    ("kids%", 5),
    ("lag ms", 6),
    ("wait%", 5),
    ("rss MB", 6),
    ("gap p50/p99/max ms", 18),
    ("holes ms/min", 12),
    ("resp p50/p99 ms", 15),
    ("-cfg p50/p99", 12),
    ("barge p50/p99", 13),
    ("turns", 5),
    ("errors", 6),
)


def _n(v: float | None, digits: int = 0) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def format_table(reports: list[StepReport]) -> str:
    """The human-readable table, one row per step."""
    header = "  ".join(name.rjust(width) for name, width in _COLUMNS)
    lines = [header, "-" * len(header)]
    for r in reports:
        cells = (
            str(r.calls),
            str(r.heard_every_reply),
            _n(r.server_cpu_percent),
            _n(r.server_children_cpu_percent),
            _n(r.server_lag_max_ms),
            _n(r.server_wait_percent),
            _n(r.server_rss_mb),
            f"{_n(r.gap_p50_ms, 1)}/{_n(r.gap_p99_ms, 1)}/{_n(r.gap_max_ms)}",
            _n(r.holes_ms_per_min),
            f"{_n(r.response_p50_ms)}/{_n(r.response_p99_ms)}",
            f"{_n(r.added_p50_ms)}/{_n(r.added_p99_ms)}",
            f"{_n(r.barge_in_p50_ms)}/{_n(r.barge_in_p99_ms)}",
            str(r.turns),
            str(sum(r.errors.values())),
        )
        lines.append("  ".join(c.rjust(w) for c, (_, w) in zip(cells, _COLUMNS, strict=True)))
    notes = []
    for r in reports:
        if r.errors:
            listed = ", ".join(f"{what}: {count}" for what, count in sorted(r.errors.items()))
            notes.append(f"{r.calls} calls: {listed}")
        if r.connected < r.calls:
            notes.append(f"{r.calls} calls: only {r.connected} connected")
        if r.client_lag_events:
            notes.append(
                f"{r.calls} calls: the load generator fell behind {r.client_lag_events} times "
                f"(client CPU {_n(r.client_cpu_percent)} %, waiting for a CPU "
                f"{_n(r.client_wait_percent)} %); figures of this step are suspect"
            )
    if reports:
        notes.append(
            "heard: callers greeted and answered every time; cpu%: server CPU time over wall "
            "time (100 = one core); kids%: the same for its child processes (model workers); "
            "lag ms: the server's highest event-loop lag; wait%: time the server was ready to "
            "run but another process had the CPU"
        )
        notes.append(
            f"configured provider latency (subtracted in -cfg): "
            f"{reports[0].configured_response_ms} ms"
        )
    return "\n".join(lines + notes)
