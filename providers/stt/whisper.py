"""Whisper over any OpenAI-compatible `/v1/audio/transcriptions` server at a base URL you
choose (self-hosted faster-whisper-server/speaches, vLLM, LocalAI, or OpenAI itself), or
whisper.cpp's `whisper-server` (`server: whisper.cpp`, its `/inference` endpoint), fed the
utterances our VAD cuts, as in-memory WAV files.

Model ids are the server's own: speaches takes Hugging Face ids (the default,
`Systran/faster-whisper-small`), OpenAI `whisper-1`, and whisper.cpp serves the one model it
was started with, so none is sent to it. The credential check lists `/models`; a server
without that endpoint (whisper.cpp) passes once it answers."""

from __future__ import annotations

from datetime import date
from typing import Annotated, ClassVar, Literal

import msgspec

from providers.base import ProviderConfig, ProviderKind
from providers.cloud.options import CloudOptions
from providers.registry import VendorInfo, parse_options, register
from providers.retry import with_retries
from providers.stt.transcriptions import check_server, transcribe_file
from providers.stt.utterance import UTTERANCE_SAMPLE_RATE, UtteranceSTT, language_code

# Where faster-whisper-server (speaches) listens by default.
LOCAL_WHISPER_URL = "http://127.0.0.1:8000/v1"
# Where whisper.cpp's whisper-server listens by default, and its transcription path.
WHISPER_CPP_URL = "http://127.0.0.1:8080"
WHISPER_CPP_PATH = "/inference"
DEFAULT_MODEL = "Systran/faster-whisper-small"


class WhisperOptions(CloudOptions, kw_only=True):
    """Settings of an OpenAI-compatible transcription server."""

    # "openai": `{base_url}/audio/transcriptions`; "whisper.cpp": `{base_url}/inference`.
    server: Literal["openai", "whisper.cpp"] = "openai"
    # Words the caller is likely to say (names, products): Whisper's `prompt`.
    prompt: str = ""
    temperature: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.0


@register(
    VendorInfo(
        kind=ProviderKind.STT,
        vendor="whisper",
        display_name="Whisper (OpenAI-compatible server)",
        description=(
            "Any server with an OpenAI-style /v1/audio/transcriptions endpoint, or whisper.cpp's "
            "server (/inference), at a base URL you choose, fed one utterance at a time. "
            "whisper-1 is OpenAI's model id only. The API key is optional."
        ),
        models=[DEFAULT_MODEL, "Systran/faster-distil-whisper-large-v3", "whisper-1"],
        default_model=DEFAULT_MODEL,
        sample_rate=UTTERANCE_SAMPLE_RATE,
        checked=date(2026, 12, 5),
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
        self._cpp = self.options.server == "whisper.cpp"
        self._base_url = self.options.url(WHISPER_CPP_URL if self._cpp else self.default_base_url)

    async def transcribe(self, wav: bytes, seconds: float) -> str:
        return await transcribe_file(
            self.vendor,
            self.http,
            self._base_url,
            self.config.api_key,
            wav,
            model=None if self._cpp else self.config.model or DEFAULT_MODEL,
            language=language_code(self.config.language),
            prompt=self.options.prompt,
            temperature=self.options.temperature,
            path=WHISPER_CPP_PATH if self._cpp else "/audio/transcriptions",
        )

    async def check_credentials(self) -> None:
        async def attempt() -> None:
            await check_server(self.vendor, self.http, self._base_url, self.config.api_key)

        await with_retries(attempt, self._policy, what=f"{self.vendor} models")
