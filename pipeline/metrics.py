"""Prometheus metrics of the turn engine (module-level: one registry per process)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from pipeline.records import TurnMetrics

# Buckets from 5 ms to 10 s: our own overhead sits at the low end, provider latency above.
_LATENCY_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0,
)  # fmt: skip

TURN_STAGE_SECONDS = Histogram(
    "vocals_turn_stage_seconds",
    "Time from the end of the caller's speech to each stage of the agent's answer.",
    ["stage"],
    buckets=_LATENCY_BUCKETS,
)
TURN_RESPONSE_SECONDS = Histogram(
    "vocals_turn_response_seconds",
    "End of caller speech (or STT final) to the first agent audio frame sent.",
    buckets=_LATENCY_BUCKETS,
)
GREETING_FIRST_FRAME_SECONDS = Histogram(
    "vocals_greeting_first_frame_seconds",
    "Media leg up to the first frame of the welcome message sent.",
    buckets=_LATENCY_BUCKETS,
)
BARGE_IN_SECONDS = Histogram(
    "vocals_barge_in_seconds",
    "Caller speech onset to the agent's audio cleared from the leg.",
    buckets=_LATENCY_BUCKETS,
)
PROVIDER_FAILURES = Counter(
    "vocals_provider_failures_total",
    "Provider errors and timeouts seen by the pipeline.",
    ["kind", "vendor", "error", "retried"],
)
APOLOGIES = Counter(
    "vocals_apologies_total", "Spoken apologies after every provider for a request failed."
)
CALLS_ENDED = Counter("vocals_calls_ended_total", "Calls ended, by outcome.", ["outcome"])
QUIET_LINE_SECONDS = Counter(
    "vocals_quiet_line_seconds_total",
    "Caller silence heard on Vocals' own clock where the far end sent no audio frames.",
)

_STAGES = ("stt_final", "llm_first_token", "first_sentence", "tts_first_audio", "first_frame_out")


def observe_turn(turn: TurnMetrics) -> None:
    """Export one finished turn's stage latencies (relative to the end of caller speech)."""
    start = turn.end_of_speech_ms if turn.end_of_speech_ms is not None else turn.stt_final_ms
    if turn.index == 0:
        if turn.first_frame_out_ms is not None:
            GREETING_FIRST_FRAME_SECONDS.observe(turn.first_frame_out_ms / 1000)
    elif start is not None:
        for stage in _STAGES:
            at: int | None = getattr(turn, f"{stage}_ms")
            if at is not None:
                TURN_STAGE_SECONDS.labels(stage).observe(max(0, at - start) / 1000)
        if turn.first_frame_out_ms is not None:
            TURN_RESPONSE_SECONDS.observe(max(0, turn.first_frame_out_ms - start) / 1000)
    if turn.barge_in_speech_ms is not None and turn.barge_in_cleared_ms is not None:
        BARGE_IN_SECONDS.observe(max(0, turn.barge_in_cleared_ms - turn.barge_in_speech_ms) / 1000)
