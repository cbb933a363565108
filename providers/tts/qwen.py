"""Qwen text-to-speech over Alibaba Cloud Model Studio's realtime WebSocket (Qwen-TTS-Realtime).

`{base_url}/api-ws/v1/realtime?model=qwen3-tts-flash-realtime` with `Authorization: Bearer
<key>`. The server greets with `session.created`; the client configures the session with
`session.update` (voice, `mode: "commit"`, `response_format: "pcm"`, `sample_rate: 8000`,
answered by `session.updated`). Each sentence is `input_text_buffer.append` + `commit`; the
server streams `response.audio.delta` events (base64 PCM) and ends with `response.done`;
failures come as `error` events `{"error": {"code", "message"}}`. `session.finish` ends it.
The older `qwen-tts-realtime` takes 24 kHz only and no `speech_rate` (Model Studio's
client-events reference, checked 2026-12-05), so it gets neither and is resampled.

One session serves the whole call: sentences are committed one after another on it, so only
the first pays the TLS and session set-up (`connect()` opens it ahead of the first sentence).
A session whose sentence did not finish cleanly (error, barge-in) is dropped, never reused:
its leftover audio must not leak into the next sentence. Qwen has no G.711 output; PCM at
8 kHz is the telephone rate. Keys belong to one region (the default endpoint is Singapore):
a refused key says so and names the Beijing endpoint.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import uuid
from collections.abc import AsyncGenerator
from datetime import date
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import httpx
import msgspec
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from providers.base import ProviderConfig, ProviderError, ProviderKind
from providers.cloud.websocket import open_websocket, receive, send
from providers.registry import VendorInfo, register
from providers.tts.cloud import CloudTTS
from providers.tts.streaming import CloudTTSOptions, WireAudio, WireEncoding

MODELS = ["qwen3-tts-flash-realtime", "qwen-tts-realtime"]
# Models that speak 24 kHz PCM only and take no speech rate (by model id prefix).
_FIXED_24K_MODELS = ("qwen-tts-realtime",)
_FIXED_RATE = 24000
_INTL_URL = "wss://dashscope-intl.aliyuncs.com"
_BEIJING_URL = "wss://dashscope.aliyuncs.com"
VOICES = ["Cherry", "Ethan", "Serena", "Chelsie", "Dylan", "Jada", "Sunny", "Nofish"]
# Error codes meaning the key is refused or unpaid: retrying cannot help.
_REFUSED_CODES = {"InvalidApiKey", "AccessDenied", "Arrearage", "AccessDenied.Unpurchased"}
_TRANSIENT_CODES = {"Throttling", "Throttling.RateQuota", "Throttling.AllocationQuota"}


class QwenTTSOptions(CloudTTSOptions, kw_only=True):
    """Per-agent settings of Qwen realtime TTS."""

    # PCM rates the realtime models serve; 8 kHz matches the phone line.
    sample_rate: Literal[8000, 16000, 24000, 48000] = 8000
    # "Auto", or the text's language ("English", "Chinese", ...) for better pronunciation.
    language_type: str = "Auto"
    speech_rate: Annotated[float, msgspec.Meta(ge=0.5, le=2.0)] | None = None


class _Error(msgspec.Struct):
    code: str = ""
    message: str = ""


class _Event(msgspec.Struct):
    type: str
    delta: str | None = None
    error: _Error | None = None


_event_decoder = msgspec.json.Decoder(_Event)


@register(
    VendorInfo(
        kind=ProviderKind.TTS,
        vendor="qwen",
        display_name="Qwen TTS (Alibaba Cloud)",
        description=(
            "Qwen3-TTS realtime over Alibaba Cloud Model Studio's WebSocket, 8 kHz PCM; one "
            "session per call. base_url selects the region (international by default)."
        ),
        models=MODELS,
        voices=VOICES,
        default_model="qwen3-tts-flash-realtime",
        default_voice="Cherry",
        needs_api_key=True,
        checked=date(2026, 12, 5),
        sample_rate=8000,
    ),
    options=QwenTTSOptions,
)
class QwenTTS(CloudTTS[QwenTTSOptions]):
    """Qwen realtime speech for one call, over one reused session."""

    vendor = "qwen"
    default_base_url = _INTL_URL
    options_type = QwenTTSOptions

    def __init__(self, config: ProviderConfig, *, http: httpx.AsyncClient | None = None) -> None:
        super().__init__(config, http=http)
        self._fixed_24k = (config.model or MODELS[0]).startswith(_FIXED_24K_MODELS)
        self._session: ClientConnection | None = None
        # One sentence at a time on the session: a look-ahead sentence waits its turn.
        self._turn = asyncio.Lock()

    @property
    def wire(self) -> WireAudio:
        rate = _FIXED_RATE if self._fixed_24k else self.options.sample_rate
        return WireAudio(WireEncoding.PCM16, rate)

    @property
    def url(self) -> str:
        query = urlencode({"model": self.config.model or MODELS[0]})
        root = self.base_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        return f"{root}/api-ws/v1/realtime?{query}"

    async def connect(self) -> None:
        async with self._turn:
            await self._open_session()

    async def close(self) -> None:
        """Finish the session; one still speaking (the call is ending) is dropped at once."""
        if self._turn.locked():
            self._drop_session()
        else:
            async with self._turn:
                session, self._session = self._session, None
                if session is not None:
                    with contextlib.suppress(ConnectionClosed):
                        await session.send(self._event("session.finish"))
                    await session.close()
        await super().close()

    async def check_credentials(self) -> None:
        """Open a session (handshake + `session.update`) and finish it; nothing is spoken."""
        await self.connect()
        await self.close()

    def audio_source(self, text: str) -> AsyncGenerator[bytes, None]:
        return self._sentence_audio(text)

    async def _sentence_audio(self, text: str) -> AsyncGenerator[bytes, None]:
        async with self._turn:
            session = await self._open_session()
            finished = False
            try:
                await send(self.vendor, session, self._event("input_text_buffer.append", text=text))
                await send(self.vendor, session, self._event("input_text_buffer.commit"))
                while True:
                    event = await self._next_event(session)
                    if event.type == "response.audio.delta" and event.delta:
                        yield self._audio(event.delta)
                    elif event.type == "response.done":
                        finished = True
                        return
                    elif event.type == "session.finished":
                        raise ProviderError(f"{self.vendor}: session ended early", retryable=True)
            finally:
                if not finished:
                    self._drop_session()

    async def _open_session(self) -> ClientConnection:
        """The call's session, opened and configured on first use (caller holds `_turn`).

        A session the server closed while idle is replaced here, at no retry's cost."""
        if self._session is not None:
            if self._session.state is State.OPEN:
                return self._session
            self._drop_session()
        headers = {"Authorization": f"Bearer {self.config.api_key or ''}"}
        try:
            session = await open_websocket(
                self.vendor, self.url, headers, connect_timeout=self.options.connect_timeout
            )
        except ProviderError as exc:
            raise self._region_hint(exc) from exc
        try:
            await self._expect(session, "session.created")
            await send(self.vendor, session, self._event("session.update", session=self._config()))
            await self._expect(session, "session.updated")
        except BaseException:
            session.transport.abort()
            raise
        self._session = session
        return session

    def _config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "voice": self.config.voice or VOICES[0],
            "mode": "commit",
            "language_type": self.options.language_type,
            "response_format": "pcm",
            "sample_rate": self.wire.sample_rate,
        }
        if self.options.speech_rate is not None and not self._fixed_24k:
            config["speech_rate"] = self.options.speech_rate
        return config

    def _region_hint(self, exc: ProviderError) -> ProviderError:
        """A refused key, with what usually causes it: a key of the other region."""
        if exc.status not in (401, 403):
            return exc
        other = _BEIJING_URL if "dashscope-intl" in self.base_url else _INTL_URL
        return ProviderError(
            f"{exc} (Alibaba Cloud keys belong to one region and this endpoint is "
            f"{self.base_url}; a key from the other region needs base_url {other})",
            retryable=False,
            status=exc.status,
        )

    def _drop_session(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            session.transport.abort()

    async def _expect(self, session: ClientConnection, event_type: str) -> None:
        while (await self._next_event(session)).type != event_type:
            pass

    async def _next_event(self, session: ClientConnection) -> _Event:
        raw = await receive(self.vendor, session, self.options.read_timeout)
        try:
            event = _event_decoder.decode(raw)
        except msgspec.DecodeError as exc:
            raise ProviderError(f"{self.vendor}: malformed event: {exc}", retryable=True) from exc
        if event.type == "error":
            raise self._error(event.error or _Error())
        return event

    def _error(self, error: _Error) -> ProviderError:
        detail = f"{error.code}: {error.message}"
        if error.code in _REFUSED_CODES:
            return ProviderError(f"{self.vendor}: credential refused ({detail})", retryable=False)
        if error.code in _TRANSIENT_CODES or error.code.startswith("InternalError"):
            return ProviderError(f"{self.vendor}: {detail}", retryable=True)
        return ProviderError(f"{self.vendor}: {detail}", retryable=False)

    def _audio(self, delta: str) -> bytes:
        try:
            return base64.b64decode(delta, validate=True)
        except binascii.Error as exc:
            raise ProviderError(f"{self.vendor}: audio is not base64", retryable=True) from exc

    @staticmethod
    def _event(event_type: str, **fields: Any) -> str:
        event = {"event_id": f"event_{uuid.uuid4().hex}", "type": event_type, **fields}
        return msgspec.json.encode(event).decode()
