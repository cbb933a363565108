"""ElevenLabs realtime speech-to-text (Scribe) over
`wss://api.elevenlabs.io/v1/speech-to-text/realtime`.

The handshake carries `xi-api-key` and the session settings as query parameters: the model,
`audio_format=ulaw_8000` (telephone audio as the phone sends it), `commit_strategy=manual`
(our VAD decides when an utterance ends) and the language. The server opens with
`session_started`; audio goes as `input_audio_chunk` JSON messages (base64), and a chunk with
`commit: true` asks for the `committed_transcript` of what was heard since the last commit;
`partial_transcript`s come in between. Errors arrive as messages whose `message_type` names
them (`auth_error`, `quota_exceeded`, `unaccepted_terms_error`, `rate_limited`, ...), as the
ElevenLabs Python SDK's realtime events list them. The service refuses a commit of less than
0.3 s of audio (`commit_throttled`, an error in the SDK), so a shorter utterance is padded
with silence up to that before it is committed.
"""

from __future__ import annotations

import base64
from datetime import date
from urllib.parse import urlencode

import httpx
import msgspec
from websockets.asyncio.client import ClientConnection

from media.g711 import ulaw_encode
from providers.base import ProviderConfig, ProviderError, ProviderKind, Transcript
from providers.cloud.http import send_with_retries
from providers.cloud.options import CloudOptions
from providers.cloud.websocket import receive
from providers.registry import VendorInfo, parse_options, register
from providers.stt.streaming import StreamingSTT, http_base
from providers.stt.utterance import language_code

ELEVENLABS_BASE_URL = "wss://api.elevenlabs.io"
_SAMPLE_RATE = 8000
# Errors that another try with the same key cannot fix.
_FINAL_ERRORS = {"auth_error", "unaccepted_terms", "unaccepted_terms_error", "quota_exceeded"}
# The answer to a commit that means "no speech in it": an empty final, not a failure.
_EMPTY_COMMIT = "insufficient_audio_activity"
# The least uncommitted audio a commit may carry (µ-law bytes: one per sample).
_MIN_COMMIT_BYTES = int(0.3 * _SAMPLE_RATE)
_ULAW_SILENCE = b"\xff"


class ElevenLabsSTTOptions(CloudOptions, kw_only=True):
    """ElevenLabs realtime STT settings (connection settings only)."""


class _Message(msgspec.Struct):
    message_type: str
    text: str = ""
    error: str = ""


_decoder = msgspec.json.Decoder(_Message)
_encoder = msgspec.json.Encoder()


@register(
    VendorInfo(
        kind=ProviderKind.STT,
        vendor="elevenlabs",
        display_name="ElevenLabs",
        description="ElevenLabs Scribe realtime over WebSocket, µ-law 8 kHz, manual commits.",
        models=["scribe_v2_realtime"],
        default_model="scribe_v2_realtime",
        needs_api_key=True,
        checked=date(2026, 12, 5),
        sample_rate=_SAMPLE_RATE,
    ),
    options=ElevenLabsSTTOptions,
)
class ElevenLabsSTT(StreamingSTT):
    """Streaming transcription with ElevenLabs Scribe."""

    vendor = "elevenlabs"
    sample_rate = _SAMPLE_RATE

    def __init__(self, config: ProviderConfig) -> None:
        self.options = parse_options(config, ElevenLabsSTTOptions)
        super().__init__(config, self.options)
        self._base_url = self.options.url(ELEVENLABS_BASE_URL)
        self._uncommitted = 0

    def ws_url(self) -> str:
        params = {
            "model_id": self.config.model or "scribe_v2_realtime",
            "audio_format": "ulaw_8000",
            "commit_strategy": "manual",
            "language_code": language_code(self.config.language),
        }
        return f"{self._base_url}/v1/speech-to-text/realtime?{urlencode(params)}"

    def ws_headers(self) -> dict[str, str]:
        return {"xi-api-key": self.config.api_key or ""}

    async def start_session(self, ws: ClientConnection) -> None:
        message = self._decode(await receive(self.vendor, ws, self._cloud.read_timeout))
        if message.message_type != "session_started":
            raise self._error(message)

    def audio_message(self, pcm: bytes) -> str:
        self._uncommitted += len(pcm) // 2
        return self._chunk(ulaw_encode(pcm), commit=False)

    async def finalize(self) -> None:
        if self._uncommitted == 0:
            self.emit(Transcript("", is_final=True))
            return
        padding = _ULAW_SILENCE * max(0, _MIN_COMMIT_BYTES - self._uncommitted)
        self._uncommitted = 0
        await self.send_message(self._chunk(padding, commit=True))

    async def on_message(self, message: str | bytes) -> None:
        event = self._decode(message)
        kind = event.message_type
        if kind == "partial_transcript":
            if event.text.strip():
                self.emit(Transcript(event.text.strip(), is_final=False))
        elif kind == "committed_transcript":
            self.emit(Transcript(event.text.strip(), is_final=True))
        elif kind == _EMPTY_COMMIT:
            self.emit(Transcript("", is_final=True))
        elif event.error or kind.endswith(("error", "throttled")) or kind in _FINAL_ERRORS:
            raise self._error(event)

    async def check_credentials(self) -> None:
        """`GET /v1/models`: authenticated and free."""
        url = f"{http_base(self._base_url)}/v1/models"
        async with httpx.AsyncClient(timeout=self.options.http_timeout()) as client:
            await send_with_retries(
                self.vendor,
                client,
                lambda: client.build_request("GET", url, headers=self.ws_headers()),
                self._policy,
                what="models",
            )

    def _chunk(self, audio: bytes, *, commit: bool) -> str:
        return _encoder.encode(
            {
                "message_type": "input_audio_chunk",
                "audio_base_64": base64.b64encode(audio).decode(),
                "commit": commit,
                "sample_rate": _SAMPLE_RATE,
            }
        ).decode()

    def _decode(self, message: str | bytes) -> _Message:
        try:
            return _decoder.decode(message)
        except msgspec.DecodeError as exc:
            raise ProviderError(f"{self.vendor}: malformed message: {exc}", retryable=True) from exc

    def _error(self, event: _Message) -> ProviderError:
        kind = event.message_type
        if kind == "auth_error":
            return ProviderError(
                f"{self.vendor}: credential refused: {event.error}", retryable=False, status=401
            )
        return ProviderError(
            f"{self.vendor}: {kind}: {event.error or event.text}",
            retryable=kind not in _FINAL_ERRORS,
        )
