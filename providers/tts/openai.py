"""OpenAI text-to-speech: `POST {base_url}/audio/speech` with `response_format: "pcm"`.

The speech endpoint streams raw 24 kHz PCM16 as it is generated (chunked transfer). It offers no
G.711 output, so the pipeline resamples 24 kHz to the leg's rate. The base URL includes `/v1`,
so any OpenAI-compatible speech server (e.g. a self-hosted Kokoro) works the same way.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import date
from typing import Annotated

import msgspec

from providers.base import ProviderKind
from providers.cloud.http import send_once
from providers.registry import VendorInfo, register
from providers.tts.cloud import CloudTTS
from providers.tts.streaming import CloudTTSOptions, WireAudio, WireEncoding
from providers.tts.transport import http_audio

# The `pcm` response format is fixed at 24 kHz mono 16-bit little-endian.
PCM_SAMPLE_RATE = 24000
# OpenAI's text-to-speech guide (checked 2026-12-05): these models shut down on 2027-01-06;
# the named successor (gpt-realtime-2.1-mini) speaks only over the Realtime API.
MODELS = ["gpt-4o-mini-tts", "tts-1", "tts-1-hd"]
# marin and cedar sound best (gpt-4o-mini-tts only; tts-1 has the nine older voices).
VOICES = [
    "marin",
    "cedar",
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "fable",
    "nova",
    "onyx",
    "sage",
    "shimmer",
    "verse",
]


class OpenAITTSOptions(CloudTTSOptions, kw_only=True):
    """Per-agent settings of OpenAI speech."""

    speed: Annotated[float, msgspec.Meta(ge=0.25, le=4.0)] = 1.0
    # Tone and style directions (gpt-4o-mini-tts only), e.g. "Warm, unhurried, friendly."
    instructions: str | None = None


@register(
    VendorInfo(
        kind=ProviderKind.TTS,
        vendor="openai",
        display_name="OpenAI speech",
        description=(
            "OpenAI text-to-speech, streamed as 24 kHz PCM. The speech models shut down on "
            "2027-01-06; marin and cedar need gpt-4o-mini-tts."
        ),
        models=MODELS,
        voices=VOICES,
        default_model="gpt-4o-mini-tts",
        default_voice="marin",
        needs_api_key=True,
        checked=date(2026, 12, 5),
        sample_rate=PCM_SAMPLE_RATE,
    ),
    options=OpenAITTSOptions,
)
class OpenAITTS(CloudTTS[OpenAITTSOptions]):
    """OpenAI speech for one call."""

    vendor = "openai"
    default_base_url = "https://api.openai.com/v1"
    options_type = OpenAITTSOptions

    @property
    def wire(self) -> WireAudio:
        return WireAudio(WireEncoding.PCM16, PCM_SAMPLE_RATE)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.api_key or ''}"}

    def audio_source(self, text: str) -> AsyncGenerator[bytes, None]:
        body: dict[str, object] = {
            "model": self.config.model or "gpt-4o-mini-tts",
            "input": text,
            "voice": self.config.voice or "alloy",
            "response_format": "pcm",
            "speed": self.options.speed,
        }
        if self.options.instructions:
            body["instructions"] = self.options.instructions
        request = self.http.build_request(
            "POST", f"{self.base_url}/audio/speech", json=body, headers=self._headers()
        )
        return http_audio(self.vendor, self.http, request)

    async def check_credentials(self) -> None:
        """`GET /models`: free, and refused with 401 for a bad key."""
        request = self.http.build_request("GET", f"{self.base_url}/models", headers=self._headers())
        await send_once(self.vendor, self.http, request)
