"""Qwen / Alibaba Cloud Model Studio (DashScope) realtime speech recognition (Paraformer,
Fun-ASR) over the DashScope inference WebSocket.

The handshake carries `Authorization: Bearer <key>` (a bad key is refused there with 401).
A recognition *task* runs on the socket: the client sends `run-task` (model, `format=pcm`,
`sample_rate`), the server answers `task-started`, audio goes as binary frames, the server
sends `result-generated` events (`payload.output.sentence` with `text` and `sentence_end`),
and after the client's `finish-task` it flushes the last sentence and sends `task-finished`;
`task-failed` carries `error_code`/`error_message`. Paraformer has no flush within a task, so
the end of an utterance finishes the task (giving its final at once) and the next utterance
runs in a new task. Running a second task on a socket after `task-finished` is not
documented, so each task gets its own socket, opened as soon as the previous task finished;
audio arriving in between is held and sent when the new task has started.

Models and rates (Model Studio's realtime ASR pages, checked 2026-12-05): the Paraformer
realtime models take 8 kHz (`paraformer-realtime-8k-v2` is the telephone one) and
`fun-asr-flash-8k-realtime` is 8 kHz only, all in the China (Beijing) region;
`fun-asr-realtime` takes 16 kHz only and also runs in Singapore, so the pipeline resamples
the call's audio up for it. Keys belong to one region: a key from the other region is refused
at the handshake, and the error says so.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Any

import msgspec
from websockets.asyncio.client import ClientConnection

from providers.base import ProviderConfig, ProviderError, ProviderKind, Transcript
from providers.cloud.options import CloudOptions
from providers.cloud.websocket import open_websocket_with_retries, receive, send
from providers.registry import VendorInfo, parse_options, register
from providers.stt.streaming import StreamingSTT
from providers.stt.utterance import language_code

# Paraformer runs in the China (Beijing) region; other regions set their own base_url.
DASHSCOPE_WS_URL = "wss://dashscope.aliyuncs.com/api-ws/v1/inference"
DASHSCOPE_INTL_WS_URL = "wss://dashscope-intl.aliyuncs.com/api-ws/v1/inference"
DEFAULT_MODEL = "paraformer-realtime-v2"
_SAMPLE_RATE = 8000
# Models that take 16 kHz audio only (by model id prefix).
_WIDEBAND_MODELS = ("fun-asr-realtime",)
_WIDEBAND_RATE = 16000
# Seconds of audio held while the next task starts: far more than the round trip it takes.
_MAX_HELD_SECONDS = 10
# Error codes no retry fixes.
_FINAL_ERRORS = {"InvalidApiKey", "AccessDenied", "Arrearage", "ModelNotFound", "InvalidParameter"}


class QwenSTTOptions(CloudOptions, kw_only=True):
    """DashScope realtime ASR settings."""

    # Drop filler words ("um", "uh") from the text.
    disfluency_removal: bool = False


class _Header(msgspec.Struct):
    event: str = ""
    task_id: str = ""
    error_code: str = ""
    error_message: str = ""


class _Sentence(msgspec.Struct):
    text: str = ""
    sentence_end: bool = False
    heartbeat: bool | None = None


class _Output(msgspec.Struct):
    sentence: _Sentence | None = None


class _Payload(msgspec.Struct):
    output: _Output | None = None


class _Event(msgspec.Struct):
    header: _Header
    payload: _Payload | None = None


_decoder = msgspec.json.Decoder(_Event)
_encoder = msgspec.json.Encoder()


@register(
    VendorInfo(
        kind=ProviderKind.STT,
        vendor="qwen",
        display_name="Qwen / Alibaba Cloud (DashScope)",
        description=(
            "Alibaba Cloud Model Studio realtime ASR (Paraformer, Fun-ASR) over WebSocket. "
            "Keys are per region: the default base_url is China (Beijing); Singapore keys "
            f"need {DASHSCOPE_INTL_WS_URL} and fun-asr-realtime (16 kHz)."
        ),
        models=[
            DEFAULT_MODEL,
            "paraformer-realtime-8k-v2",
            "fun-asr-flash-8k-realtime",
            "fun-asr-realtime",
        ],
        default_model=DEFAULT_MODEL,
        needs_api_key=True,
        checked=date(2026, 12, 5),
        sample_rate=_SAMPLE_RATE,
    ),
    options=QwenSTTOptions,
)
class QwenSTT(StreamingSTT):
    """Streaming transcription with DashScope's realtime ASR, one task (and socket) per
    utterance."""

    vendor = "qwen"
    sample_rate = _SAMPLE_RATE

    def __init__(self, config: ProviderConfig) -> None:
        self.options = parse_options(config, QwenSTTOptions)
        super().__init__(config, self.options)
        self._model = config.model or DEFAULT_MODEL
        if self._model.startswith(_WIDEBAND_MODELS):
            self.sample_rate = _WIDEBAND_RATE
        self._url = self.options.url(DASHSCOPE_WS_URL)
        self._task_id = ""
        self._running = False
        self._held = bytearray()
        self._finish_when_started = False
        self._finishing = False
        self._final_sent = False
        # The next task's socket being opened (between utterances).
        self._opening: asyncio.Task[None] | None = None

    def ws_url(self) -> str:
        return self._url

    def ws_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.api_key or ''}"}

    async def connect(self) -> None:
        try:
            await super().connect()
        except ProviderError as exc:
            raise _region_hint(exc, self._url) from exc

    async def start_session(self, ws: ClientConnection) -> None:
        await send(self.vendor, ws, self._run_task())
        while True:
            event = self._decode(await receive(self.vendor, ws, self._cloud.read_timeout))
            if event.header.event == "task-started":
                self._running = True
                return
            if event.header.event == "task-failed":
                raise self._error(event.header)

    def audio_message(self, pcm: bytes) -> bytes:
        return pcm

    async def send_audio(self, pcm: bytes) -> None:
        if self._failure is not None:
            raise self._failure
        between_tasks = self._opening is not None or (self._ws is not None and not self._running)
        if not between_tasks:
            await super().send_audio(pcm)
        elif len(self._held) + len(pcm) <= _MAX_HELD_SECONDS * self.sample_rate * 2:
            self._held += pcm

    async def end_utterance(self) -> None:
        if self._opening is not None and self._failure is None:
            # The next task is starting; its utterance ends as soon as it has.
            self._finish_when_started = True
            return
        await super().end_utterance()

    async def finalize(self) -> None:
        if not self._running:
            # The task is still finishing or starting.
            self._finish_when_started = True
            return
        await self._finish_task()

    async def on_message(self, message: str | bytes) -> None:
        event = self._decode(message)
        header = event.header
        if header.event == "result-generated":
            sentence = (
                event.payload.output.sentence if event.payload and event.payload.output else None
            )
            if sentence is None or sentence.heartbeat:
                return
            text = sentence.text.strip()
            if sentence.sentence_end:
                self.emit(Transcript(text, is_final=True))
                self._final_sent = True
            elif text:
                self.emit(Transcript(text, is_final=False))
        elif header.event == "task-finished":
            if self._finishing and not self._final_sent:
                self.emit(Transcript("", is_final=True))
            self._finishing = False
            self._running = False
            if not self._closing:
                # Runs once the old socket is retired (`retire_socket` clears it at once).
                self._opening = asyncio.create_task(self._next_task())
                self._tasks.append(self._opening)
            await self.retire_socket()
        elif header.event == "task-failed":
            raise self._error(header)

    async def check_credentials(self) -> None:
        """Open the socket and close it: DashScope checks the key at the handshake."""
        try:
            ws = await open_websocket_with_retries(
                self.vendor,
                self._url,
                self.ws_headers(),
                connect_timeout=self._cloud.connect_timeout,
                policy=self._policy,
            )
        except ProviderError as exc:
            raise _region_hint(exc, self._url) from exc
        await ws.close()

    async def _next_task(self) -> None:
        """Open the next task's socket, then send the audio held meanwhile."""
        try:
            await self.connect()
            while self._held:
                held, self._held = bytes(self._held), bytearray()
                await super().send_audio(held)
            self._opening = None
            if self._finish_when_started:
                self._finish_when_started = False
                await self._finish_task()
        except ProviderError as exc:
            self._fail(exc)

    async def _finish_task(self) -> None:
        self._running = False
        self._finishing = True
        self._final_sent = False
        message = {
            "header": {"action": "finish-task", "task_id": self._task_id, "streaming": "duplex"},
            "payload": {"input": {}},
        }
        await self.send_message(_encoder.encode(message).decode())

    def _run_task(self) -> str:
        self._task_id = uuid.uuid4().hex
        parameters: dict[str, Any] = {
            "format": "pcm",
            "sample_rate": self.sample_rate,
            "language_hints": [language_code(self.config.language)],
            "disfluency_removal_enabled": self.options.disfluency_removal,
        }
        message = {
            "header": {"action": "run-task", "task_id": self._task_id, "streaming": "duplex"},
            "payload": {
                "task_group": "audio",
                "task": "asr",
                "function": "recognition",
                "model": self._model,
                "parameters": parameters,
                "input": {},
            },
        }
        return _encoder.encode(message).decode()

    def _decode(self, message: str | bytes) -> _Event:
        try:
            return _decoder.decode(message)
        except msgspec.DecodeError as exc:
            raise ProviderError(f"{self.vendor}: malformed event: {exc}", retryable=True) from exc

    def _error(self, header: _Header) -> ProviderError:
        code = header.error_code
        return ProviderError(
            f"{self.vendor}: task failed: {code}: {header.error_message}",
            retryable=code not in _FINAL_ERRORS,
        )


def _region_hint(exc: ProviderError, url: str) -> ProviderError:
    """A refused key, with what usually causes it: a key of the other region."""
    if exc.status not in (401, 403):
        return exc
    other = DASHSCOPE_INTL_WS_URL if "dashscope-intl" not in url else DASHSCOPE_WS_URL
    return ProviderError(
        f"{exc} (Alibaba Cloud keys belong to one region and this endpoint is {url}; "
        f"a key from the other region needs base_url {other})",
        retryable=False,
        status=exc.status,
    )
