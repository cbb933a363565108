"""OpenAI chat completions, streamed: the shared OpenAI-compatible client at api.openai.com.

OpenAI's current models take `max_completion_tokens` (`max_tokens` is deprecated and refused
by reasoning models); reasoning models (o-series, gpt-5) accept no `temperature` and take a
`reasoning_effort`, which a phone call wants low. The efforts a model takes depend on its
family (OpenAI's reasoning guide and API errors, checked 2026-12-05): the o-series has
low/medium/high, gpt-5 adds "minimal", gpt-5.1 and later (gpt-6 too) replaced "minimal"
with "none". The option names the effort wanted; the quickest the model has is sent in its
place.

Models: OpenAI's deprecations page (checked 2026-12-05) shut gpt-4.1-nano and o4-mini down
on 2026-10-23, gpt-5 and gpt-5-mini go on 2026-12-11, gpt-4o(-mini) and gpt-4.1(-mini) on
2027-01-14 with gpt-6-luna as the replacement; so the catalog offers the GPT-6 models, which
reason (effort "none" answers soonest) and take no temperature.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, ClassVar, Literal

from providers.base import Message, ProviderKind
from providers.llm.openai_compatible import OpenAICompatibleLLM, OpenAICompatibleOptions
from providers.registry import VendorInfo, register

OPENAI_BASE_URL = "https://api.openai.com/v1"
# Model id prefixes of reasoning models, which reject `temperature`.
_REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5", "gpt-6")
# Families whose quickest effort is "none" (gpt-5.1 and later).
_NONE_FAMILIES = ("gpt-5.", "gpt-6")
_O_SERIES = ("o1", "o3", "o4")
# "The quickest there is", as gpt-5.1+ and gpt-5 spell it; the o-series' quickest is "low".
_QUICKEST = ("none", "minimal")


class OpenAIOptions(OpenAICompatibleOptions, kw_only=True):
    """OpenAI settings: the OpenAI-compatible ones plus the reasoning effort."""

    # Reasoning models only. "none" and "minimal" both mean the quickest the model has.
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high"] = "minimal"


@register(
    VendorInfo(
        kind=ProviderKind.LLM,
        vendor="openai",
        display_name="OpenAI",
        description="OpenAI chat completions, streamed.",
        models=["gpt-6-luna", "gpt-6-sol"],
        default_model="gpt-6-luna",
        needs_api_key=True,
        checked=date(2026, 12, 5),
    ),
    options=OpenAIOptions,
)
class OpenAILLM(OpenAICompatibleLLM):
    """OpenAI's chat completions through the shared OpenAI-compatible client."""

    vendor = "openai"
    default_base_url: ClassVar[str] = OPENAI_BASE_URL
    options_type: ClassVar[type[OpenAICompatibleOptions]] = OpenAIOptions

    def request_payload(self, messages: Sequence[Message], system_prompt: str) -> dict[str, Any]:
        payload = super().request_payload(messages, system_prompt)
        payload["max_completion_tokens"] = payload.pop("max_tokens")
        model = str(payload["model"])
        if model.startswith(_REASONING_PREFIXES):
            del payload["temperature"]
            assert isinstance(self.options, OpenAIOptions)
            payload["reasoning_effort"] = _effort_for(model, self.options.reasoning_effort)
        return payload


def _effort_for(model: str, wanted: str) -> str:
    """`wanted`, or the model family's quickest effort when `wanted` is another family's."""
    if wanted not in _QUICKEST:
        return wanted
    if model.startswith(_O_SERIES):
        return "low"
    if model.startswith(_NONE_FAMILIES):
        return "none"
    return "minimal"
