"""Whisper over any OpenAI-compatible `/v1/audio/transcriptions` server at a base URL you
choose (self-hosted faster-whisper-server/speaches, whisper.cpp server, vLLM, LocalAI, or
OpenAI itself), fed the utterances our VAD cuts, as in-memory WAV files."""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

from providers.base import ProviderConfig, ProviderKind
from providers.cloud.options import CloudOptions
from providers.registry import VendorInfo, parse_options, register
from providers.retry import with_retries
from providers.stt.transcriptions import list_models, transcribe_file
from providers.stt.utterance import UTTERANCE_SAMPLE_RATE, UtteranceSTT, language_code

# Where faster-whisper-server (speaches) listens by default.
LOCAL_WHISPER_URL = "http://127.0.0.1:8000/v1"


class WhisperOptions(CloudOptions, kw_only=True):
    """Settings of an OpenAI-compatible transcription server."""

    # Words the caller is likely to say (names, products): Whisper's `prompt`.
    prompt: str = ""
    temperature: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.0


@register(
    VendorInfo(
        kind=ProviderKind.STT,
        vendor="whisper",
        display_name="Whisper (OpenAI-compatible server)",
        description=(
            "Any server with an OpenAI-style /v1/audio/transcriptions endpoint at a base URL "
            "you choose, fed one utterance at a time. The API key is optional."
        ),
        models=[
            "whisper-1",
            "Systran/faster-whisper-small",
            "Systran/faster-distil-whisper-large-v3",
        ],
        default_model="whisper-1",
        sample_rate=UTTERANCE_SAMPLE_RATE,
    ),
    options=WhisperOptions,
)
class WhisperSTT(UtteranceSTT):
    """Utterance-by-utterance transcription at an OpenAI-compatible server."""

    vendor = "whisper"
    default_base_url: ClassVar[str] = LOCAL_WHISPER_URL

    def __init__(self, config: ProviderConfig) -> None:
        self.options = parse_options(config, WhisperOptions)
        super().__init__(config, self.options)
        self._base_url = self.options.url(self.default_base_url)

    async def transcribe(self, wav: bytes, seconds: float) -> str:
        return await transcribe_file(
            self.vendor,
            self.http,
            self._base_url,
            self.config.api_key,
            wav,
            model=self.config.model or "whisper-1",
            language=language_code(self.config.language),
            prompt=self.options.prompt,
            temperature=self.options.temperature,
        )

    async def check_credentials(self) -> None:
        async def attempt() -> None:
            await list_models(self.vendor, self.http, self._base_url, self.config.api_key)

        await with_retries(attempt, self._policy, what=f"{self.vendor} models")
