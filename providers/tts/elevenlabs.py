"""ElevenLabs text-to-speech, over the HTTP stream endpoint or one multi-context WebSocket
per call.

HTTP (default): `POST {base_url}/v1/text-to-speech/{voice_id}/stream?output_format=ulaw_8000`
with `xi-api-key` and `{"text", "model_id", "voice_settings"}`; the body is headerless audio
as it is generated. Each sentence pays a request (on a pooled, pre-warmed connection).

WebSocket (`transport: "websocket"`): `{base_url as ws}/v1/text-to-speech/{voice_id}
/multi-stream-input?model_id=&output_format=&auto_mode=true` with `xi-api-key`, opened once
per call (`connect()` opens it ahead of the first sentence), so only the first sentence pays
the handshake. Each sentence is its own *context* (ElevenLabs' multi-context WebSocket API
reference, checked 2026-12-05): `{"text": " ", "context_id", voice_settings}` opens it,
`{"text": "<sentence> ", "context_id", "flush": true}` generates it, `{"context_id",
"close_context": true}` ends it; the server answers `{"audio": <base64>, "contextId"}`
messages and `{"isFinal": true, "contextId"}`, or an error `{"message", "error", "code"}`.
`{"close_socket": true}` ends the call. A sentence dropped mid-way (barge-in) leaves the
socket usable: its late audio carries its own context id and is discarded; a socket the
server closed while idle (its inactivity timeout) is replaced on the next sentence.

µ-law 8 kHz (`ulaw_8000`) is asked for by default: telephone-native, no resample.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import uuid
from collections.abc import AsyncGenerator
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

import httpx
import msgspec
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from providers.base import ProviderConfig, ProviderError, ProviderKind
from providers.cloud.http import send_once
from providers.cloud.websocket import open_websocket, receive, send
from providers.registry import VendorInfo, register
from providers.tts.cloud import CloudTTS
from providers.tts.streaming import CloudTTSOptions, WireAudio, WireEncoding
from providers.tts.transport import http_audio

MODELS = ["eleven_flash_v2_5", "eleven_turbo_v2_5", "eleven_multilingual_v2", "eleven_v3"]
# "Rachel", one of the premade voices every account has.
DEFAULT_VOICE = "21m00Tcm4TlvDq8ikWAM"
Output = Literal["ulaw_8000", "alaw_8000", "pcm_8000", "pcm_16000", "pcm_22050", "pcm_24000"]
_ENCODINGS = {"ulaw": WireEncoding.ULAW, "alaw": WireEncoding.ALAW, "pcm": WireEncoding.PCM16}
# In-band WebSocket errors that mean the key (or its quota) is refused: retrying cannot help.
_REFUSED_ERRORS = {"invalid_api_key", "unauthorized", "quota_exceeded", "payment_required"}
_RATE_LIMIT_ERRORS = {"rate_limited", "too_many_concurrent_requests", "system_busy"}


class ElevenLabsTTSOptions(CloudTTSOptions, kw_only=True):
    """Per-agent settings of ElevenLabs."""

    transport: Literal["http", "websocket"] = "http"
    # µ-law 8 kHz is what a phone line carries; PCM rates suit wideband legs.
    output: Output = "ulaw_8000"
    stability: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None
    similarity_boost: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None
    speed: Annotated[float, msgspec.Meta(ge=0.7, le=1.2)] | None = None
    # WebSocket: generate as soon as text arrives instead of filling the chunk schedule first;
    # ElevenLabs recommends it when whole sentences are sent, which is what the pipeline does.
    auto_mode: bool = True


class _StreamMessage(msgspec.Struct):
    audio: str | None = None
    isFinal: bool | None = None
    contextId: str | None = None
    message: str | None = None
    error: str | None = None
    code: int | None = None


_message_decoder = msgspec.json.Decoder(_StreamMessage)


@register(
    VendorInfo(
        kind=ProviderKind.TTS,
        vendor="elevenlabs",
        display_name="ElevenLabs",
        description=(
            "ElevenLabs voices over the HTTP stream (default) or one multi-context WebSocket "
            "per call, µ-law 8 kHz by default. The voice is an ElevenLabs voice id."
        ),
        models=MODELS,
        default_model="eleven_flash_v2_5",
        default_voice=DEFAULT_VOICE,
        needs_api_key=True,
        sample_rate=8000,
    ),
    options=ElevenLabsTTSOptions,
)
class ElevenLabsTTS(CloudTTS[ElevenLabsTTSOptions]):
    """ElevenLabs speech for one call."""

    vendor = "elevenlabs"
    default_base_url = "https://api.elevenlabs.io"
    options_type = ElevenLabsTTSOptions

    def __init__(self, config: ProviderConfig, *, http: httpx.AsyncClient | None = None) -> None:
        super().__init__(config, http=http)
        self._socket: ClientConnection | None = None
        # One sentence at a time on the socket: a look-ahead sentence waits its turn.
        self._turn = asyncio.Lock()

    @property
    def wire(self) -> WireAudio:
        encoding, rate = self.options.output.split("_")
        return WireAudio(_ENCODINGS[encoding], int(rate))

    @property
    def warms_http(self) -> bool:
        # The WebSocket transport warms its socket instead.
        return self.options.prewarm and self.options.transport == "http"

    async def connect(self) -> None:
        if self.options.transport == "websocket" and self.options.prewarm:
            async with self._turn:
                await self._open_socket()
        await super().connect()

    async def close(self) -> None:
        """End the call's socket; one still speaking (the call is ending) is dropped at once."""
        if self._turn.locked():
            self._drop_socket()
        else:
            async with self._turn:
                socket, self._socket = self._socket, None
                if socket is not None:
                    with contextlib.suppress(ConnectionClosed):
                        await socket.send(msgspec.json.encode({"close_socket": True}).decode())
                    await socket.close()
        await super().close()

    def _headers(self) -> dict[str, str]:
        return {"xi-api-key": self.config.api_key or ""}

    def _voice_path(self) -> str:
        return quote(self.config.voice or DEFAULT_VOICE, safe="")

    def _voice_settings(self) -> dict[str, float] | None:
        settings = {
            "stability": self.options.stability,
            "similarity_boost": self.options.similarity_boost,
            "speed": self.options.speed,
        }
        chosen = {name: value for name, value in settings.items() if value is not None}
        return chosen or None

    def audio_source(self, text: str) -> AsyncGenerator[bytes, None]:
        if self.options.transport == "websocket":
            return self._websocket_audio(text)
        body: dict[str, Any] = {"text": text, "model_id": self.config.model or MODELS[0]}
        settings = self._voice_settings()
        if settings:
            body["voice_settings"] = settings
        request = self.http.build_request(
            "POST",
            f"{self.base_url}/v1/text-to-speech/{self._voice_path()}/stream",
            params={"output_format": self.options.output},
            json=body,
            headers=self._headers(),
        )
        return http_audio(self.vendor, self.http, request)

    async def _websocket_audio(self, text: str) -> AsyncGenerator[bytes, None]:
        async with self._turn:
            socket = await self._open_socket()
            context = uuid.uuid4().hex
            opening: dict[str, Any] = {"text": " ", "context_id": context}
            settings = self._voice_settings()
            if settings:
                opening["voice_settings"] = settings
            # The API wants each text piece to end with a space.
            outgoing = [
                opening,
                {"text": text.rstrip() + " ", "context_id": context, "flush": True},
                {"context_id": context, "close_context": True},
            ]
            finished = sent = False
            try:
                for message in outgoing:
                    try:
                        await send(self.vendor, socket, msgspec.json.encode(message).decode())
                    except ProviderError:
                        # Closed on us: the reason (e.g. a refused key) is in what it sent.
                        break
                sent = True
                while True:
                    reply = self._decode(
                        await receive(self.vendor, socket, self.options.read_timeout)
                    )
                    if reply.error is not None:
                        raise self._stream_error(reply)
                    if reply.contextId not in (None, context):
                        continue  # late audio of a sentence dropped earlier
                    if reply.audio:
                        yield self._audio(reply.audio)
                    if reply.isFinal:
                        finished = True
                        return
            finally:
                # Dropped before its messages were all out, a half-sent frame may be on the
                # wire: that socket cannot be trusted with the next sentence.
                if not finished and (not sent or socket.state is not State.OPEN):
                    self._drop_socket()

    async def _open_socket(self) -> ClientConnection:
        """The call's socket, opened on first use (caller holds `_turn`); one the server
        closed while idle is replaced here, at no retry's cost."""
        if self._socket is not None:
            if self._socket.state is State.OPEN:
                return self._socket
            self._drop_socket()
        query = urlencode(
            {
                "model_id": self.config.model or MODELS[0],
                "output_format": self.options.output,
                "auto_mode": "true" if self.options.auto_mode else "false",
            }
        )
        root = self.base_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        url = f"{root}/v1/text-to-speech/{self._voice_path()}/multi-stream-input?{query}"
        self._socket = await open_websocket(
            self.vendor, url, self._headers(), connect_timeout=self.options.connect_timeout
        )
        return self._socket

    def _drop_socket(self) -> None:
        socket, self._socket = self._socket, None
        if socket is not None:
            socket.transport.abort()

    def _decode(self, raw: str | bytes) -> _StreamMessage:
        try:
            return _message_decoder.decode(raw)
        except msgspec.DecodeError as exc:
            raise ProviderError(f"{self.vendor}: malformed message: {exc}", retryable=True) from exc

    def _audio(self, data: str) -> bytes:
        try:
            return base64.b64decode(data, validate=True)
        except binascii.Error as exc:
            raise ProviderError(f"{self.vendor}: audio is not base64", retryable=True) from exc

    def _stream_error(self, message: _StreamMessage) -> ProviderError:
        detail = f"{message.error}: {message.message or ''}".strip()
        if message.error in _REFUSED_ERRORS:
            return ProviderError(
                f"{self.vendor}: credential refused ({detail})", retryable=False, status=401
            )
        if message.error in _RATE_LIMIT_ERRORS:
            return ProviderError(f"{self.vendor}: {detail}", retryable=True, status=429)
        return ProviderError(f"{self.vendor}: {detail}", retryable=False)

    async def check_credentials(self) -> None:
        """`GET /v1/models`: free, and refused with 401 for a bad key."""
        request = self.http.build_request(
            "GET", f"{self.base_url}/v1/models", headers=self._headers()
        )
        await send_once(self.vendor, self.http, request)
