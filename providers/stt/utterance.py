"""Base of speech-to-text vendors fed one utterance at a time over HTTP (Whisper-style
`/audio/transcriptions` servers, Fish Audio ASR, OpenAI's file endpoint).

Caller audio passes the webrtcvad `SpeechGate` (speech plus a little context, the silences
while the agent talks left out) into a buffer; `end_utterance()` sends the buffered
utterance as one WAV file and emits its text as the final transcript (these APIs give no
partials). An utterance with no speech is not sent at all: it costs money and
Whisper-style models invent text on silence. Requests are retried on 429/5xx, never on
401/403, and answered in order.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import abstractmethod
from collections.abc import AsyncIterator

import httpx

from providers.base import ProviderConfig, ProviderError, STTProvider, Transcript
from providers.cloud.options import CloudOptions
from providers.retry import with_retries
from providers.stt.speech_gate import SpeechGate
from providers.stt.wav import wav_bytes

# Telephone audio is 8 kHz: sending it as is halves the upload against 16 kHz and loses
# nothing the narrowband line carried (the vendors resample internally).
UTTERANCE_SAMPLE_RATE = 8000
# An utterance longer than this is sent in pieces while the caller goes on, so a monologue
# neither grows without bound nor exceeds the 30 s window Whisper-style models decode at once.
MAX_UTTERANCE_SECONDS = 28.0


def language_code(language: str) -> str:
    """ISO-639-1 from a BCP-47 tag: `en-US` -> `en`."""
    return language.split("-", 1)[0].lower()


class UtteranceSTT(STTProvider):
    """Buffers the caller's utterance and transcribes it in one request at its end."""

    sample_rate = UTTERANCE_SAMPLE_RATE

    def __init__(self, config: ProviderConfig, options: CloudOptions) -> None:
        super().__init__(config)
        self._cloud = options
        self._policy = options.retry_policy()
        self._gate = SpeechGate(self.sample_rate)
        self._buffer = bytearray()
        self._max_bytes = int(MAX_UTTERANCE_SECONDS * self.sample_rate) * 2
        self._queue: asyncio.Queue[Transcript | ProviderError | None] = asyncio.Queue()
        self._order = asyncio.Lock()
        self._pieces: set[asyncio.Task[None]] = set()
        self._http: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        """The connection pool, created on first use (so `connect` is optional)."""
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self._cloud.http_timeout())
        return self._http

    @abstractmethod
    async def transcribe(self, wav: bytes, seconds: float) -> str:
        """One request transcribing `wav` (`seconds` long); raise `ProviderError` on failure."""

    async def connect(self) -> None:
        _ = self.http

    async def send_audio(self, pcm: bytes) -> None:
        self._gate.push(pcm, self._buffer)
        if len(self._buffer) >= self._max_bytes:
            piece = bytes(self._buffer)
            self._buffer.clear()
            task = asyncio.create_task(self._send_piece(piece))
            self._pieces.add(task)
            task.add_done_callback(self._pieces.discard)

    async def end_utterance(self) -> None:
        pcm = bytes(self._buffer)
        self._buffer.clear()
        await self._transcribe_in_order(pcm)

    async def transcripts(self) -> AsyncIterator[Transcript]:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            if isinstance(item, ProviderError):
                raise item
            yield item

    async def close(self) -> None:
        for task in list(self._pieces):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._queue.put_nowait(None)
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _send_piece(self, pcm: bytes) -> None:
        try:
            await self._transcribe_in_order(pcm)
        except ProviderError as exc:
            self._queue.put_nowait(exc)

    async def _transcribe_in_order(self, pcm: bytes) -> None:
        async with self._order:
            if not pcm:
                self._queue.put_nowait(Transcript("", is_final=True))
                return
            seconds = len(pcm) / 2 / self.sample_rate
            wav = wav_bytes(pcm, self.sample_rate)

            async def attempt() -> str:
                return await self.transcribe(wav, seconds)

            text = await with_retries(attempt, self._policy, what=f"{self.vendor} transcription")
            self.usage.requests += 1
            self.usage.audio_seconds += seconds
            self._queue.put_nowait(Transcript(text.strip(), is_final=True))
