"""The stored shape of turns and usage, which analytics and the UI read."""

from __future__ import annotations

from ari_app.record_format import stored_turns, stored_usage
from pipeline.records import CallOutcome, CallResult, ProviderUsageRecord, TurnMetrics
from providers.base import ProviderKind, ProviderUsage


def _result() -> CallResult:
    turn = TurnMetrics(
        index=1,
        end_of_speech_ms=10_000,
        stt_final_ms=10_180,
        llm_first_token_ms=10_400,
        first_sentence_ms=10_450,
        tts_first_audio_ms=10_560,
        first_frame_out_ms=10_575,
    )
    usage = [
        ProviderUsageRecord(
            ProviderKind.STT, "pocketsphinx", False, ProviderUsage(audio_seconds=3.5)
        ),
        ProviderUsageRecord(ProviderKind.LLM, "openai", False, ProviderUsage(output_tokens=12)),
        ProviderUsageRecord(ProviderKind.LLM, "scripted", True, ProviderUsage(requests=1)),
        ProviderUsageRecord(ProviderKind.TTS, "piper", False, ProviderUsage(characters=80)),
    ]
    return CallResult(
        call_id="c",
        tenant_id="t",
        outcome=CallOutcome.AGENT_ENDED,
        duration_ms=20_000,
        transcript=[],
        turns=[turn],
        provider_usage=usage,
        events=[],
    )


def test_turns_keep_timestamps_and_add_stage_latencies_and_vendors() -> None:
    (turn,) = stored_turns(_result())
    assert turn["end_of_speech_ms"] == 10_000 and turn["first_frame_out_ms"] == 10_575
    assert turn["latency"]["stt_final_ms"] == 180
    assert turn["latency"]["llm_first_token_ms"] == 220
    assert turn["latency"]["tts_first_audio_ms"] == 110
    assert turn["latency"]["total_ms"] == 575
    assert turn["latency"]["barge_in_ms"] is None
    assert (turn["stt_vendor"], turn["llm_vendor"], turn["tts_vendor"]) == (
        "pocketsphinx",
        "openai",
        "piper",
    )


def test_usage_is_keyed_by_kind_and_vendor() -> None:
    usage = stored_usage(_result())
    assert usage["stt:pocketsphinx"]["audio_seconds"] == 3.5
    assert usage["llm:openai"]["output_tokens"] == 12
    assert usage["llm:scripted:fallback"]["requests"] == 1
