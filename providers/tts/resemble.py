"""Resemble AI text-to-speech over its streaming HTTP endpoint.

`POST {base_url}/stream` (a synthesis host, not app.resemble.ai) with `Authorization: Bearer
<key>` and `{"voice_uuid", "data", "precision": "MULAW", "sample_rate": 8000}` answers a WAV
stream: a header (fmt, then cue/label metadata chunks) and the samples as they are generated.
The header is parsed incrementally and stripped; µ-law 8 kHz is telephone-native.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Literal

import httpx

from providers.base import ProviderConfig, ProviderKind
from providers.cloud.http import send_once
from providers.registry import ProviderConfigError, VendorInfo, register
from providers.tts.cloud import CloudTTS
from providers.tts.streaming import CloudTTSOptions, WireAudio, WireEncoding
from providers.tts.transport import http_audio

_PRECISION = {"MULAW": WireEncoding.ULAW, "PCM_16": WireEncoding.PCM16}


class ResembleTTSOptions(CloudTTSOptions, kw_only=True):
    """Per-agent settings of Resemble."""

    # µ-law 8 kHz is the phone line's own format; PCM_16 at 16 kHz suits wideband legs.
    precision: Literal["MULAW", "PCM_16"] = "MULAW"
    sample_rate: Literal[8000, 16000, 22050, 32000, 44100, 48000] = 8000
    # The project the generated clips are filed under (optional).
    project_uuid: str | None = None
    # e.g. "chatterbox-turbo" for the lowest latency; empty lets Resemble choose per voice.
    model: str | None = None
    # Management API, for the credential check.
    api_base_url: str = "https://app.resemble.ai/api/v2"


@register(
    VendorInfo(
        kind=ProviderKind.TTS,
        vendor="resemble",
        display_name="Resemble AI",
        description=(
            "Resemble AI streaming synthesis, µ-law 8 kHz by default. The voice is a Resemble "
            "voice UUID (required)."
        ),
        needs_api_key=True,
        sample_rate=8000,
    ),
    options=ResembleTTSOptions,
)
class ResembleTTS(CloudTTS[ResembleTTSOptions]):
    """Resemble speech for one call."""

    vendor = "resemble"
    default_base_url = "https://f.cluster.resemble.ai"
    options_type = ResembleTTSOptions

    def __init__(self, config: ProviderConfig, *, http: httpx.AsyncClient | None = None) -> None:
        super().__init__(config, http=http)
        if not config.voice:
            raise ProviderConfigError("resemble: a voice (Resemble voice UUID) is required")
        self.voice_uuid = config.voice

    @property
    def wire(self) -> WireAudio:
        return WireAudio(_PRECISION[self.options.precision], self.options.sample_rate)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.api_key or ''}"}

    def audio_source(self, text: str) -> AsyncGenerator[bytes, None]:
        body: dict[str, object] = {
            "voice_uuid": self.voice_uuid,
            "data": text,
            "precision": self.options.precision,
            "sample_rate": self.options.sample_rate,
        }
        if self.options.project_uuid:
            body["project_uuid"] = self.options.project_uuid
        if self.options.model:
            body["model"] = self.options.model
        request = self.http.build_request(
            "POST", f"{self.base_url}/stream", json=body, headers=self._headers()
        )
        return http_audio(self.vendor, self.http, request)

    async def check_credentials(self) -> None:
        """`GET {api_base_url}/voices?page=1&page_size=10`: lists voices, synthesizes nothing."""
        request = self.http.build_request(
            "GET",
            f"{self.options.api_base_url.rstrip('/')}/voices",
            params={"page": "1", "page_size": "10"},
            headers=self._headers(),
        )
        await send_once(self.vendor, self.http, request)
