"""Pricing a call's stored provider usage (providers/pricing.py) as ari_app stores it."""

from __future__ import annotations

import pytest

from ari_app.record_format import stored_usage
from pipeline.records import CallOutcome, CallResult, ProviderUsageRecord
from providers.base import ProviderKind, ProviderUsage
from providers.pricing import Price, PriceTable


def test_the_model_a_call_used_is_stored_with_its_usage() -> None:
    result = CallResult(
        call_id="c",
        tenant_id="t",
        outcome=CallOutcome.AGENT_ENDED,
        duration_ms=1,
        transcript=[],
        turns=[],
        provider_usage=[
            ProviderUsageRecord(
                kind=ProviderKind.LLM,
                vendor="claude",
                fallback=False,
                usage=ProviderUsage(input_tokens=1_000_000, output_tokens=100_000),
                model="claude-sonnet-4-6",
            ),
            ProviderUsageRecord(
                kind=ProviderKind.TTS,
                vendor="piper",
                fallback=False,
                usage=ProviderUsage(characters=10),
            ),
        ],
        events=[],
    )
    stored = stored_usage(result)
    assert stored["llm:claude"]["model"] == "claude-sonnet-4-6"
    assert "model" not in stored["tts:piper"]
    assert PriceTable().cost(stored).total == pytest.approx(3.0 + 1.5)


def test_prices_follow_vendor_model_default_model_and_offline_rules() -> None:
    usage = {
        "llm:claude": {
            "input_tokens": 1_000_000,
            "output_tokens": 100_000,
            "model": "claude-sonnet-4-6",
        },
        # No model: the vendor's default (claude-haiku-4-5) is what was billed.
        "llm:claude:fallback": {"input_tokens": 1_000_000},
        "tts:piper": {"characters": 5_000},
        "llm:kimi": {"input_tokens": 10},
        "stt:deepgram": {"audio_seconds": 30.0},
    }
    cost = PriceTable().cost(usage)
    items = {i.provider: i for i in cost.items}
    assert items["llm:claude"].amount == pytest.approx(3.0 + 1.5)
    assert items["llm:claude:fallback"].model == "claude-haiku-4-5"
    assert items["llm:claude:fallback"].amount == pytest.approx(1.0)
    assert items["tts:piper"].offline and items["tts:piper"].amount == 0
    assert not items["llm:kimi"].priced
    assert items["stt:deepgram"].amount == pytest.approx(0.0059 / 2)
    assert cost.unpriced == ["llm:kimi"]
    assert cost.total == pytest.approx(4.5 + 1.0 + 0.0059 / 2)
    mine = PriceTable([Price(kind="llm", vendor="kimi", per_million_input_tokens=1_000_000)])
    assert mine.cost(usage).unpriced == []
    assert mine.cost(usage).total == pytest.approx(cost.total + 10)
