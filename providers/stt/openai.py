"""OpenAI speech-to-text: a realtime transcription session over WebSocket, falling back to
the file endpoint.

Realtime: `wss://api.openai.com/v1/realtime?intent=transcription` with `Authorization:
Bearer`; the server opens with `session.created` (whose `expires_at` is when OpenAI will end
the session: 60 minutes today), we send `session.update` (type `transcription`, input format
`audio/pcmu`, i.e. telephone µ-law at 8 kHz as is, a streaming model such as
`gpt-live-transcribe`) and wait for `session.updated`. Audio goes as
`input_audio_buffer.append` (base64); at the end of speech `input_audio_buffer.commit`; the
transcript streams back as `conversation.item.input_audio_transcription.delta` events and
ends with `.completed` (with token usage). Only speech is appended (the webrtcvad gate), since
OpenAI bills every audio token committed.

The GPT transcribe models (`gpt-live-transcribe`, `gpt-transcribe`) take a `languages` array
and literal `keywords` instead of the legacy `language` (OpenAI's Whisper-to-GPT-Transcribe
migration cookbook, checked 2026-12-05); `gpt-live-transcribe` has no server VAD, so
`turn_detection` is left out for it, while older models get `null` because our VAD decides
turns. A long call outlives a session: once fewer than `RENEW_BEFORE_EXPIRY_S` remain, the
next utterance starts on a new session.

Fallback: if the realtime socket cannot be opened for any reason but a refused key or a
refused session configuration (a proxy without WebSocket support, a region without realtime),
or drops mid-call, the provider carries on with `POST /v1/audio/transcriptions`, one utterance
per request, re-sending an utterance whose realtime final was lost. A session configuration
OpenAI refuses is an error the caller's call reports, not a silent switch to the file
endpoint. Option `mode: file` uses the file endpoint only.
"""

from __future__ import annotations

import asyncio
import base64
import time
from datetime import date
from typing import Annotated, Literal

import httpx
import msgspec
import structlog
from websockets.asyncio.client import ClientConnection

from media.g711 import ulaw_encode
from providers.base import ProviderConfig, ProviderError, ProviderKind, Transcript
from providers.cloud.options import CloudOptions
from providers.cloud.websocket import receive, send
from providers.registry import ProviderConfigError, VendorInfo, parse_options, register
from providers.retry import with_retries
from providers.stt.speech_gate import SpeechGate
from providers.stt.streaming import StreamingSTT
from providers.stt.transcriptions import list_models, transcribe_file
from providers.stt.utterance import language_code
from providers.stt.wav import wav_bytes

log = structlog.get_logger(__name__)

OPENAI_BASE_URL = "https://api.openai.com/v1"
_SAMPLE_RATE = 8000
_EMPTY_COMMIT = "input_audio_buffer_commit_empty"
# The transcription models that take `languages`/`keywords` (by model id prefix).
_GPT_TRANSCRIBE = ("gpt-live-transcribe", "gpt-transcribe")
# Models without server-side turn detection: `turn_detection` is left out for them.
_NO_TURN_DETECTION = ("gpt-live-transcribe",)
# Renew the session this long before it expires: longer than any one utterance.
RENEW_BEFORE_EXPIRY_S = 60.0
_encoder = msgspec.json.Encoder()

Keyword = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=r"^[^<>\r\n]+$")]


class OpenAISTTOptions(CloudOptions, kw_only=True):
    """OpenAI transcription settings."""

    mode: Literal["realtime", "file"] = "realtime"
    # The model of the file endpoint (fallback, or `mode: file`): the streaming models are
    # realtime-only.
    file_model: str = "gpt-4o-mini-transcribe"
    # What the call is about, free-form.
    prompt: str = ""
    # Literal terms the caller is likely to say (names, products): GPT transcribe models.
    keywords: list[Keyword] = msgspec.field(default_factory=list)
    # OpenAI's input noise reduction ("near_field" suits a handset); None: off.
    noise_reduction: Literal["near_field", "far_field"] | None = None
    # gpt-live-transcribe: how long it waits before emitting text (more: more accurate
    # partials, later). None: OpenAI's default.
    delay: Literal["minimal", "low", "medium", "high", "xhigh"] | None = None
    read_timeout: Annotated[float, msgspec.Meta(gt=0, le=300)] = 15.0


class _Usage(msgspec.Struct):
    input_tokens: int = 0
    output_tokens: int = 0


class _Error(msgspec.Struct):
    type: str = ""
    code: str | None = None
    message: str = ""


class _Session(msgspec.Struct):
    expires_at: int | None = None


class _Event(msgspec.Struct):
    type: str
    session: _Session | None = None
    item_id: str = ""
    delta: str = ""
    transcript: str = ""
    usage: _Usage | None = None
    error: _Error | None = None


_decoder = msgspec.json.Decoder(_Event)


@register(
    VendorInfo(
        kind=ProviderKind.STT,
        vendor="openai",
        display_name="OpenAI",
        description=(
            "OpenAI realtime transcription (µ-law 8 kHz over WebSocket), falling back to "
            "/v1/audio/transcriptions per utterance."
        ),
        # OpenAI's transcription guide and migration cookbook (checked 2026-12-05):
        # gpt-live-transcribe streams, gpt-transcribe is more accurate per committed turn;
        # gpt-realtime-whisper is the legacy one they replace.
        models=[
            "gpt-live-transcribe",
            "gpt-transcribe",
            "gpt-4o-mini-transcribe",
            "gpt-4o-transcribe",
        ],
        default_model="gpt-live-transcribe",
        needs_api_key=True,
        checked=date(2026, 12, 5),
        sample_rate=_SAMPLE_RATE,
    ),
    options=OpenAISTTOptions,
)
class OpenAISTT(StreamingSTT):
    """Realtime transcription with OpenAI, the file endpoint as fallback."""

    vendor = "openai"
    sample_rate = _SAMPLE_RATE

    def __init__(self, config: ProviderConfig) -> None:
        self.options = parse_options(config, OpenAISTTOptions)
        super().__init__(config, self.options)
        self._base_url = self.options.url(OPENAI_BASE_URL)
        self._model = config.model or "gpt-live-transcribe"
        self._language = language_code(config.language)
        self.file_mode = self.options.mode == "file"
        self._gate = SpeechGate(_SAMPLE_RATE)
        # Speech of the utterance in progress, and of the one committed but not yet final:
        # what the file endpoint needs if the socket fails.
        self._utterance = bytearray()
        self._committed: bytes | None = None
        self._deltas: dict[str, str] = {}
        self._http: httpx.AsyncClient | None = None
        self._switching: asyncio.Task[None] | None = None
        self._expires_at: float | None = None

    # ---- realtime session --------------------------------------------------------------

    def ws_url(self) -> str:
        root = self._base_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        return f"{root}/realtime?intent=transcription"

    def ws_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.api_key or ''}"}

    async def start_session(self, ws: ClientConnection) -> None:
        update = {"type": "session.update", "session": self._session_config()}
        await send(self.vendor, ws, _encoder.encode(update).decode())
        self._expires_at = None
        while True:
            event = self._decode(await receive(self.vendor, ws, self._cloud.read_timeout))
            if event.type == "session.created" and event.session is not None:
                self._expires_at = event.session.expires_at
            elif event.type == "session.updated":
                return
            elif event.type == "error":
                error = event.error or _Error()
                raise ProviderConfigError(
                    f"{self.vendor}: session refused: {error.code}: {error.message}"
                )

    def _session_config(self) -> dict[str, object]:
        transcription: dict[str, object] = {"model": self._model}
        if self._model.startswith(_GPT_TRANSCRIBE):
            transcription["languages"] = [self._language]
            if self.options.keywords:
                transcription["keywords"] = self.options.keywords
        else:
            transcription["language"] = self._language
        if self.options.prompt:
            transcription["prompt"] = self.options.prompt
        if self.options.delay is not None and self._model.startswith(_NO_TURN_DETECTION):
            transcription["delay"] = self.options.delay
        audio_in: dict[str, object] = {
            "format": {"type": "audio/pcmu"},
            "transcription": transcription,
        }
        if not self._model.startswith(_NO_TURN_DETECTION):
            audio_in["turn_detection"] = None
        if self.options.noise_reduction is not None:
            audio_in["noise_reduction"] = {"type": self.options.noise_reduction}
        return {"type": "transcription", "audio": {"input": audio_in}}

    def _session_ending(self) -> bool:
        """The session ends soon: the next utterance belongs on a new one."""
        expires_at = self._expires_at
        return expires_at is not None and expires_at - time.time() < RENEW_BEFORE_EXPIRY_S

    def audio_message(self, pcm: bytes) -> str:
        audio = base64.b64encode(ulaw_encode(pcm)).decode()
        return _encoder.encode({"type": "input_audio_buffer.append", "audio": audio}).decode()

    async def finalize(self) -> None:
        await self.send_message('{"type":"input_audio_buffer.commit"}')

    async def on_message(self, message: str | bytes) -> None:
        event = self._decode(message)
        kind = event.type
        if kind == "conversation.item.input_audio_transcription.delta":
            text = self._deltas.get(event.item_id, "") + event.delta
            self._deltas[event.item_id] = text
            if text.strip():
                self.emit(Transcript(text.strip(), is_final=False))
        elif kind == "conversation.item.input_audio_transcription.completed":
            self._deltas.pop(event.item_id, None)
            self._committed = None
            if event.usage is not None:
                self.usage.input_tokens += event.usage.input_tokens
                self.usage.output_tokens += event.usage.output_tokens
            self.emit(Transcript(event.transcript.strip(), is_final=True))
        elif kind == "conversation.item.input_audio_transcription.failed":
            self._deltas.pop(event.item_id, None)
            self._committed = None
            log.warning("openai_transcription_failed", error=event.error and event.error.message)
            self.emit(Transcript("", is_final=True))
        elif kind == "error":
            error = event.error or _Error()
            if error.code == _EMPTY_COMMIT:
                self._committed = None
                self.emit(Transcript("", is_final=True))
            else:
                raise self._error(error)

    # ---- the STT interface, with the fallback -------------------------------------------

    async def connect(self) -> None:
        if self.file_mode:
            return
        try:
            await super().connect()
        except ProviderConfigError:
            raise
        except ProviderError as exc:
            if exc.status in (401, 403):
                raise
            log.warning("openai_realtime_unavailable", error=str(exc), fallback="file endpoint")
            self.file_mode = True

    async def send_audio(self, pcm: bytes) -> None:
        speech = bytearray()
        self._gate.push(pcm, speech)
        if not speech:
            return
        starting = not self._utterance and self._committed is None and self._ws is not None
        if starting and self._session_ending():
            log.info("openai_session_renewed", reason="expires soon")
            await self.retire_socket()
        self._utterance += speech
        if self._ws is None and not self.file_mode:
            await self.connect()
        if self.file_mode:
            return
        try:
            await super().send_audio(bytes(speech))
        except ProviderError as exc:
            await self._after_failure(exc)

    async def end_utterance(self) -> None:
        utterance = bytes(self._utterance)
        self._utterance.clear()
        if not utterance:
            self.emit(Transcript("", is_final=True))
            return
        if self.file_mode:
            await self._transcribe_file(utterance)
            return
        self._committed = utterance
        try:
            await super().end_utterance()
        except ProviderError as exc:
            await self._after_failure(exc)

    async def check_credentials(self) -> None:
        async def attempt() -> None:
            await list_models(self.vendor, self.http, self._base_url, self.config.api_key)

        await with_retries(attempt, self._policy, what=f"{self.vendor} models")

    async def close(self) -> None:
        await super().close()
        if self._switching is not None:
            await asyncio.gather(self._switching, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    @property
    def http(self) -> httpx.AsyncClient:
        """The pool for the file endpoint, created on first use."""
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self._cloud.http_timeout())
        return self._http

    def _fail(self, exc: ProviderError) -> None:
        # The realtime socket failed: carry on over HTTP unless the key itself was refused.
        # Once on HTTP, the abandoned socket's own closing is no failure.
        if self.file_mode:
            return
        if exc.status in (401, 403) or not exc.retryable:
            super()._fail(exc)
            return
        if self._switching is None:
            self._switching = asyncio.create_task(self._after_failure(exc))

    async def _after_failure(self, exc: ProviderError) -> None:
        if self.file_mode:
            return
        if exc.status in (401, 403) or not exc.retryable:
            super()._fail(exc)
            raise exc
        log.warning("openai_realtime_lost", error=str(exc), fallback="file endpoint")
        self.file_mode = True
        if self._ws is not None:
            await self._ws.close()
        lost, self._committed = self._committed, None
        if lost:
            try:
                await self._transcribe_file(lost)
            except ProviderError as failure:
                super()._fail(failure)

    async def _transcribe_file(self, pcm: bytes) -> None:
        wav = wav_bytes(pcm, _SAMPLE_RATE)

        async def attempt() -> str:
            return await transcribe_file(
                self.vendor,
                self.http,
                self._base_url,
                self.config.api_key,
                wav,
                model=self.options.file_model,
                language=self._language,
                prompt=self.options.prompt,
            )

        text = await with_retries(attempt, self._policy, what=f"{self.vendor} transcription")
        self.usage.requests += 1
        self.usage.audio_seconds += len(pcm) / 2 / _SAMPLE_RATE
        self.emit(Transcript(text.strip(), is_final=True))

    def _decode(self, message: str | bytes) -> _Event:
        try:
            return _decoder.decode(message)
        except msgspec.DecodeError as exc:
            raise ProviderError(f"{self.vendor}: malformed event: {exc}", retryable=True) from exc

    def _error(self, error: _Error) -> ProviderError:
        refused = error.code == "invalid_api_key" or error.type == "authentication_error"
        # An expired session is a lost socket: the file endpoint carries on.
        expired = error.code == "session_expired"
        return ProviderError(
            f"{self.vendor}: {error.type}: {error.code}: {error.message}",
            retryable=expired or (not refused and error.type != "invalid_request_error"),
            status=401 if refused else None,
        )
