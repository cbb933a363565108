"""Kimi (Moonshot AI): its OpenAI-compatible chat completions through the shared client.

The Kimi K2 models think before answering unless told not to (`thinking: {"type":
"disabled"}`, Moonshot's instant mode), which a caller waiting in silence wants; Moonshot
pins their temperature per mode, so none is sent for them. The Moonshot v1 models take a
temperature in [0, 1]. Moonshot reports streamed usage inside the finishing choice, which
the shared client reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, ClassVar

import msgspec

from providers.base import Message, ProviderKind
from providers.llm.openai_compatible import OpenAICompatibleLLM, OpenAICompatibleOptions
from providers.registry import VendorInfo, register

# The international endpoint; users in mainland China set base_url https://api.moonshot.cn/v1.
MOONSHOT_BASE_URL = "https://api.moonshot.ai/v1"
# With thinking on, the reasoning shares the output budget: below this it can use it all
# and leave no reply.
THINKING_MIN_TOKENS = 16000


class KimiOptions(OpenAICompatibleOptions, kw_only=True):
    """Kimi settings; Moonshot accepts temperatures in [0, 1] (v1 models) and recommends 0.6."""

    temperature: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.6
    # K2 models: reason before answering (better answers, seconds of silence first).
    thinking: bool = False


@register(
    VendorInfo(
        kind=ProviderKind.LLM,
        vendor="kimi",
        display_name="Kimi (Moonshot AI)",
        description="Moonshot's Kimi models over their OpenAI-compatible API, streamed.",
        models=["kimi-k2.6", "kimi-k2.5", "moonshot-v1-8k", "moonshot-v1-32k", "moonshot-v1-auto"],
        default_model="kimi-k2.6",
        needs_api_key=True,
    ),
    options=KimiOptions,
)
class KimiLLM(OpenAICompatibleLLM):
    """Kimi chat completions through the shared OpenAI-compatible client."""

    vendor = "kimi"
    default_base_url: ClassVar[str] = MOONSHOT_BASE_URL
    options_type: ClassVar[type[OpenAICompatibleOptions]] = KimiOptions

    def request_payload(self, messages: Sequence[Message], system_prompt: str) -> dict[str, Any]:
        payload = super().request_payload(messages, system_prompt)
        if str(payload["model"]).startswith("kimi-k2"):
            del payload["temperature"]
            thinking = isinstance(self.options, KimiOptions) and self.options.thinking
            payload["thinking"] = {"type": "enabled" if thinking else "disabled"}
            if thinking:
                payload["max_tokens"] = max(payload["max_tokens"], THINKING_MIN_TOKENS)
        return payload
