"""Fish Audio text-to-speech: `POST {base_url}/v1/tts`, audio streamed back in chunks.

`Authorization: Bearer <key>`, the model in a `model` header, and a JSON body (the API also
takes MessagePack; JSON needs no extra dependency) `{"text", "reference_id", "format": "pcm",
"sample_rate": 8000, "latency": "balanced"}`. Fish offers no G.711, but raw PCM at 8 kHz is the
telephone rate, so only the cheap µ-law encode remains for the pipeline.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import date
from typing import Literal

from providers.base import ProviderKind
from providers.cloud.http import send_once
from providers.registry import VendorInfo, register
from providers.tts.cloud import CloudTTS
from providers.tts.streaming import CloudTTSOptions, WireAudio, WireEncoding
from providers.tts.transport import http_audio

# Fish Audio's docs (checked 2026-12-05): s2.1-pro is recommended for production,
# s2.1-pro-free is the same model without latency guarantees; s1 is deprecated and retired on
# 2026-12-31, and the speech-1.x models are older still.
MODELS = ["s2.1-pro", "s2-pro", "s2.1-pro-free"]
DEFAULT_MODEL = "s2.1-pro"


class FishAudioTTSOptions(CloudTTSOptions, kw_only=True):
    """Per-agent settings of Fish Audio."""

    # PCM rates Fish serves; 8 kHz matches the phone line, 16 kHz suits wideband legs.
    sample_rate: Literal[8000, 16000, 24000, 44100] = 8000
    # "balanced" trades a little quality for a faster first chunk.
    latency: Literal["normal", "balanced"] = "balanced"
    normalize: bool = True


@register(
    VendorInfo(
        kind=ProviderKind.TTS,
        vendor="fish_audio",
        display_name="Fish Audio",
        description=(
            "Fish Audio TTS streamed as 8 kHz PCM. The voice is a Fish voice model id "
            "(reference_id) from fish.audio; empty uses Fish's default voice."
        ),
        models=MODELS,
        default_model=DEFAULT_MODEL,
        needs_api_key=True,
        checked=date(2026, 12, 5),
        sample_rate=8000,
    ),
    options=FishAudioTTSOptions,
)
class FishAudioTTS(CloudTTS[FishAudioTTSOptions]):
    """Fish Audio speech for one call."""

    vendor = "fish_audio"
    default_base_url = "https://api.fish.audio"
    options_type = FishAudioTTSOptions

    @property
    def wire(self) -> WireAudio:
        return WireAudio(WireEncoding.PCM16, self.options.sample_rate)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.api_key or ''}"}

    def audio_source(self, text: str) -> AsyncGenerator[bytes, None]:
        body: dict[str, object] = {
            "text": text,
            "format": "pcm",
            "sample_rate": self.options.sample_rate,
            "latency": self.options.latency,
            "normalize": self.options.normalize,
        }
        if self.config.voice:
            body["reference_id"] = self.config.voice
        headers = {**self._headers(), "model": self.config.model or DEFAULT_MODEL}
        request = self.http.build_request(
            "POST", f"{self.base_url}/v1/tts", json=body, headers=headers
        )
        return http_audio(self.vendor, self.http, request)

    async def check_credentials(self) -> None:
        """`GET /model?page_size=1`: one page of the voice model list, no synthesis."""
        request = self.http.build_request(
            "GET", f"{self.base_url}/model", params={"page_size": "1"}, headers=self._headers()
        )
        await send_once(self.vendor, self.http, request)
