"""Deepgram Aura text-to-speech over its REST endpoint, audio streamed as it is generated.

`POST {base_url}/v1/speak?model=<voice>&encoding=mulaw&sample_rate=8000&container=none` with
`Authorization: Token <key>` and `{"text": ...}`; the body is headerless audio sent in chunks as
Aura produces it. µ-law 8 kHz is asked for by default (telephone-native: no resample).

Why REST rather than the `/v1/speak` WebSocket: the pipeline hands over whole sentences, so
streaming text in gains nothing; the WebSocket ends each sentence's audio only on `Flush`, which
Deepgram limits to 20 per 60 s (a talkative agent passes that); and the pooled keep-alive HTTP
connection (opened by `connect()`) costs no handshake per sentence and needs no Clear
bookkeeping on barge-in: the request is simply dropped.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated, Literal

import msgspec

from providers.base import ProviderKind
from providers.cloud.http import send_once
from providers.registry import VendorInfo, register
from providers.tts.cloud import CloudTTS
from providers.tts.streaming import CloudTTSOptions, WireAudio, WireEncoding
from providers.tts.transport import http_audio

DEFAULT_VOICE = "aura-2-thalia-en"
VOICES = [
    "aura-2-thalia-en",
    "aura-2-andromeda-en",
    "aura-2-apollo-en",
    "aura-2-arcas-en",
    "aura-2-asteria-en",
    "aura-2-athena-en",
    "aura-2-helena-en",
    "aura-2-hermes-en",
    "aura-2-luna-en",
    "aura-2-orion-en",
    "aura-2-zeus-en",
    "aura-2-celeste-es",
    "aura-2-nestor-es",
    "aura-asteria-en",
    "aura-luna-en",
    "aura-orion-en",
]
Output = Literal["mulaw_8000", "alaw_8000", "linear16_8000", "linear16_16000", "linear16_24000"]
_ENCODINGS = {"mulaw": WireEncoding.ULAW, "alaw": WireEncoding.ALAW, "linear16": WireEncoding.PCM16}


class DeepgramTTSOptions(CloudTTSOptions, kw_only=True):
    """Per-agent settings of Deepgram Aura."""

    # Encoding and rate asked of Deepgram; µ-law 8 kHz is what a phone line carries.
    output: Output = "mulaw_8000"
    # Speaking rate multiplier (Aura-2).
    speed: Annotated[float, msgspec.Meta(ge=0.7, le=1.5)] | None = None


@register(
    VendorInfo(
        kind=ProviderKind.TTS,
        vendor="deepgram",
        display_name="Deepgram Aura",
        description="Deepgram Aura-2 voices, streamed as µ-law 8 kHz by default.",
        voices=VOICES,
        default_voice=DEFAULT_VOICE,
        needs_api_key=True,
        sample_rate=8000,
    ),
    options=DeepgramTTSOptions,
)
class DeepgramTTS(CloudTTS[DeepgramTTSOptions]):
    """Aura speech for one call."""

    vendor = "deepgram"
    default_base_url = "https://api.deepgram.com"
    options_type = DeepgramTTSOptions

    @property
    def wire(self) -> WireAudio:
        encoding, rate = self.options.output.split("_")
        return WireAudio(_ENCODINGS[encoding], int(rate))

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.config.api_key or ''}"}

    def audio_source(self, text: str) -> AsyncGenerator[bytes, None]:
        encoding, rate = self.options.output.split("_")
        params: dict[str, str] = {
            "model": self.config.voice or DEFAULT_VOICE,
            "encoding": encoding,
            "sample_rate": rate,
            "container": "none",
        }
        if self.options.speed is not None:
            params["speed"] = str(self.options.speed)
        request = self.http.build_request(
            "POST",
            f"{self.base_url}/v1/speak",
            params=params,
            json={"text": text},
            headers=self._headers(),
        )
        return http_audio(self.vendor, self.http, request)

    async def check_credentials(self) -> None:
        """`GET /v1/projects`: lists the key's projects, synthesizes nothing."""
        request = self.http.build_request(
            "GET", f"{self.base_url}/v1/projects", headers=self._headers()
        )
        await send_once(self.vendor, self.http, request)
