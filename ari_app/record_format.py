"""How a finished call's turns and provider usage are stored (calls.turns, calls.provider_usage).

A stored turn keeps the pipeline's timestamps (ms since the leg came up, which the UI's
waterfall draws) and adds `latency`: the duration of each stage, which analytics aggregates,
with the vendor that served each kind.
"""

from __future__ import annotations

from typing import Any

import msgspec

from pipeline.records import CallResult, TurnMetrics
from providers.base import ProviderKind


def _span(start: int | None, end: int | None) -> int | None:
    return None if start is None or end is None else end - start


def stage_latencies(turn: TurnMetrics) -> dict[str, int | None]:
    """Each stage's duration in ms; `total_ms` is end of speech to first agent audio out."""
    heard = turn.stt_final_ms if turn.stt_final_ms is not None else turn.end_of_speech_ms
    return {
        "stt_final_ms": _span(turn.end_of_speech_ms, turn.stt_final_ms),
        "llm_first_token_ms": _span(heard, turn.llm_first_token_ms),
        "first_sentence_ms": _span(turn.llm_first_token_ms, turn.first_sentence_ms),
        "tts_first_audio_ms": _span(turn.first_sentence_ms, turn.tts_first_audio_ms),
        "first_frame_out_ms": _span(turn.tts_first_audio_ms, turn.first_frame_out_ms),
        "total_ms": _span(turn.end_of_speech_ms, turn.first_frame_out_ms),
        "barge_in_ms": _span(turn.barge_in_speech_ms, turn.barge_in_cleared_ms),
    }


def primary_vendors(result: CallResult) -> dict[str, str]:
    """`stt_vendor`, `llm_vendor`, `tts_vendor`: the agent's first choice of each kind."""
    vendors: dict[str, str] = {}
    for record in result.provider_usage:
        if not record.fallback:
            vendors.setdefault(f"{ProviderKind(record.kind).value}_vendor", record.vendor)
    return vendors


def stored_turns(result: CallResult) -> list[dict[str, Any]]:
    vendors = primary_vendors(result)
    return [
        {**msgspec.to_builtins(turn), **vendors, "latency": stage_latencies(turn)}
        for turn in result.turns
    ]


def stored_usage(result: CallResult) -> dict[str, Any]:
    """Counters per provider, keyed `kind:vendor` (a fallback's key ends in `:fallback`),
    with the `model` when the agent chose one (what the call is priced by)."""
    usage: dict[str, Any] = {}
    for record in result.provider_usage:
        key = f"{ProviderKind(record.kind).value}:{record.vendor}"
        if record.fallback:
            key += ":fallback"
        usage[key] = msgspec.to_builtins(record.usage)
        if record.model is not None:
            usage[key]["model"] = record.model
    return usage
