"""Fish Audio speech-to-text: `POST {base_url}/v1/asr`, one utterance per request.

A multipart upload (`audio` as a WAV file, `language`, `ignore_timestamps=true`, which Fish
documents as the faster choice for short audio) with `Authorization: Bearer`; the answer is
`{"text", "duration", "segments"}`. Errors are JSON `{status, message}` (401, 402 no credit,
429, 5xx).
"""

from __future__ import annotations

import msgspec

from providers.base import ProviderConfig, ProviderError, ProviderKind
from providers.cloud.http import send_once, send_with_retries
from providers.cloud.options import CloudOptions
from providers.registry import VendorInfo, parse_options, register
from providers.stt.utterance import UTTERANCE_SAMPLE_RATE, UtteranceSTT, language_code

FISH_AUDIO_BASE_URL = "https://api.fish.audio"


class FishAudioSTTOptions(CloudOptions, kw_only=True):
    """Fish Audio ASR settings (connection settings only: the API has no model choice)."""


class _ASRResult(msgspec.Struct):
    text: str
    duration: float = 0.0


_decoder = msgspec.json.Decoder(_ASRResult)


@register(
    VendorInfo(
        kind=ProviderKind.STT,
        vendor="fish_audio",
        display_name="Fish Audio",
        description="Fish Audio's ASR API, one utterance per request.",
        needs_api_key=True,
        sample_rate=UTTERANCE_SAMPLE_RATE,
    ),
    options=FishAudioSTTOptions,
)
class FishAudioSTT(UtteranceSTT):
    """Utterance-by-utterance transcription with Fish Audio."""

    vendor = "fish_audio"

    def __init__(self, config: ProviderConfig) -> None:
        self.options = parse_options(config, FishAudioSTTOptions)
        super().__init__(config, self.options)
        self._base_url = self.options.url(FISH_AUDIO_BASE_URL)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.api_key or ''}"}

    async def transcribe(self, wav: bytes, seconds: float) -> str:
        request = self.http.build_request(
            "POST",
            f"{self._base_url}/v1/asr",
            data={"language": language_code(self.config.language), "ignore_timestamps": "true"},
            files={"audio": ("utterance.wav", wav, "audio/wav")},
            headers=self._headers(),
        )
        response = await send_once(self.vendor, self.http, request)
        try:
            return _decoder.decode(response.content).text
        except msgspec.DecodeError as exc:
            raise ProviderError(
                f"{self.vendor}: unreadable ASR answer: {exc}", retryable=False
            ) from exc

    async def check_credentials(self) -> None:
        """`GET /wallet/self/api-credit`: authenticated, free, and what Fish's SDK uses."""
        url = f"{self._base_url}/wallet/self/api-credit"
        await send_with_retries(
            self.vendor,
            self.http,
            lambda: self.http.build_request("GET", url, headers=self._headers()),
            self._policy,
            what="credit check",
        )
