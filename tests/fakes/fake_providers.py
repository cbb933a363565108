"""Deterministic fake STT, LLM and TTS providers: scripted output, controllable latency,
injected failures. They implement `providers.base` exactly, so anything that drives a real
provider (the pipeline, the demo, benchmarks) can drive these.

Failures are planned per request with `Fault`: raise an error before any output or after N
items, or hang (so the caller's timeout fires). Every request is recorded for assertions.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from providers.base import (
    AudioChunk,
    LLMProvider,
    Message,
    ProviderConfig,
    ProviderError,
    STTProvider,
    Transcript,
    TTSProvider,
)

# Outlives any timeout a test sets: a hung request only ends by cancellation.
_HANG_S = 3600.0


@dataclass(frozen=True, slots=True)
class Fault:
    """One planned failure: `error` raised after `after_items` outputs, or a hang."""

    error: Exception | None = None
    after_items: int = 0
    hang: bool = False

    def __post_init__(self) -> None:
        if self.error is None and not self.hang:
            raise ValueError("a Fault raises an error or hangs")


def transient(message: str = "injected transient failure") -> ProviderError:
    """A retryable provider error (like a 503)."""
    return ProviderError(message, retryable=True, status=503)


def permanent(message: str = "injected permanent failure") -> ProviderError:
    """A non-retryable provider error (like a 401)."""
    return ProviderError(message, retryable=False, status=401)


class _FaultPlan:
    def __init__(self, faults: Mapping[int, Fault] | None, always: Fault | None) -> None:
        self._faults = dict(faults or {})
        self._always = always

    def for_request(self, index: int) -> Fault | None:
        return self._faults.get(index, self._always)


async def _apply(fault: Fault | None, produced: int) -> None:
    """Raise or hang if `fault` is due now that `produced` items went out."""
    if fault is None or produced != fault.after_items:
        return
    if fault.hang:
        await asyncio.sleep(_HANG_S)
    if fault.error is not None:
        raise fault.error


def _config(config: ProviderConfig | None, vendor: str, voice: str | None = None) -> ProviderConfig:
    return config or ProviderConfig(vendor=vendor, voice=voice)


class _Lifecycle:
    """Connect/close bookkeeping and an optional connect failure shared by the fakes."""

    connects: int
    closes: int
    connect_error: Exception | None
    connect_delay_s: float

    async def _do_connect(self) -> None:
        self.connects += 1
        if self.connect_delay_s:
            await asyncio.sleep(self.connect_delay_s)
        if self.connect_error is not None:
            raise self.connect_error


# ---- LLM --------------------------------------------------------------------------------

Reply = str | Sequence[str]


class FakeLLM(_Lifecycle, LLMProvider):
    """Streams scripted replies.

    `replies` is consumed one per request: a string is cut into `chunk_chars`-long deltas
    (so markers and sentences get split across chunks), a sequence of strings is used as the
    deltas as they are. A callable gets the messages and returns the reply. Running out of
    replies is a failure (RuntimeError), so a test never passes on text it did not script.
    """

    def __init__(
        self,
        config: ProviderConfig | None = None,
        *,
        replies: Sequence[Reply] | Callable[[Sequence[Message]], Reply] = (),
        first_token_s: float = 0.0,
        token_interval_s: float = 0.0,
        chunk_chars: int = 4,
        faults: Mapping[int, Fault] | None = None,
        fail_always: Fault | None = None,
        connect_error: Exception | None = None,
        connect_delay_s: float = 0.0,
        vendor: str = "fake",
    ) -> None:
        super().__init__(_config(config, vendor))
        self.vendor = vendor
        self._replies = replies if callable(replies) else list(replies)
        self.first_token_s = first_token_s
        self.token_interval_s = token_interval_s
        self.chunk_chars = chunk_chars
        self._plan = _FaultPlan(faults, fail_always)
        self.connect_error = connect_error
        self.connect_delay_s = connect_delay_s
        self.connects = 0
        self.closes = 0
        self.requests: list[list[Message]] = []
        self.system_prompts: list[str] = []
        self.started_at: list[float] = []  # monotonic time of each request
        self.abandoned = 0  # requests whose consumer stopped (cancelled) before the end

    async def connect(self) -> None:
        await self._do_connect()

    async def close(self) -> None:
        self.closes += 1

    def _deltas(self, messages: Sequence[Message]) -> list[str]:
        if callable(self._replies):
            reply = self._replies(messages)
        else:
            if not self._replies:
                raise RuntimeError("FakeLLM has no scripted reply left")
            reply = self._replies.pop(0)
        if isinstance(reply, str):
            n = self.chunk_chars
            return [reply[i : i + n] for i in range(0, len(reply), n)]
        return list(reply)

    async def stream(self, messages: Sequence[Message], system_prompt: str) -> AsyncIterator[str]:
        index = len(self.requests)
        self.requests.append(list(messages))
        self.started_at.append(time.monotonic())
        self.system_prompts.append(system_prompt)
        self.usage.requests += 1
        self.usage.input_tokens += sum(len(m.content) for m in messages) // 4
        fault = self._plan.for_request(index)
        if self.first_token_s:
            await asyncio.sleep(self.first_token_s)
        finished = False
        try:
            await _apply(fault, 0)
            deltas = self._deltas(messages)
            for produced, delta in enumerate(deltas, start=1):
                if produced > 1 and self.token_interval_s:
                    await asyncio.sleep(self.token_interval_s)
                self.usage.output_tokens += 1
                yield delta
                await _apply(fault, produced)
            finished = True
        finally:
            if not finished:
                self.abandoned += 1


# ---- TTS --------------------------------------------------------------------------------


class FakeTTS(_Lifecycle, TTSProvider):
    """Speaks any text as a steady tone: `ms_per_char` of audio per character, in chunks of
    `chunk_ms`, the first after `first_audio_s` and the next ones `chunk_interval_s` apart.

    Request i has amplitude `amplitude + i * amplitude_step`, so a test can tell which
    request's audio was played, and in which order.
    """

    def __init__(
        self,
        config: ProviderConfig | None = None,
        *,
        sample_rate: int = 22050,
        ms_per_char: int = 40,
        chunk_ms: int = 200,
        first_audio_s: float = 0.0,
        chunk_interval_s: float = 0.0,
        tone_hz: float = 440.0,
        amplitude: int = 6000,
        amplitude_step: int = 0,
        faults: Mapping[int, Fault] | None = None,
        fail_always: Fault | None = None,
        connect_error: Exception | None = None,
        connect_delay_s: float = 0.0,
        vendor: str = "fake",
        voice: str = "tone",
    ) -> None:
        super().__init__(_config(config, vendor, voice))
        self.vendor = vendor
        self.sample_rate = sample_rate
        self.ms_per_char = ms_per_char
        self.chunk_ms = chunk_ms
        self.first_audio_s = first_audio_s
        self.chunk_interval_s = chunk_interval_s
        self._plan = _FaultPlan(faults, fail_always)
        self.connect_error = connect_error
        self.connect_delay_s = connect_delay_s
        self.connects = 0
        self.closes = 0
        self.requests: list[str] = []
        self.started_at: list[float] = []  # monotonic time of each request
        self.abandoned = 0  # requests whose consumer stopped (cancelled) before the end
        self.amplitude = amplitude
        self.amplitude_step = amplitude_step
        samples = sample_rate * chunk_ms // 1000
        self._wave = np.sin(2 * math.pi * tone_hz * np.arange(samples) / sample_rate)

    async def connect(self) -> None:
        await self._do_connect()

    async def close(self) -> None:
        self.closes += 1

    def duration_ms(self, text: str) -> int:
        """Audio length this fake produces for `text`."""
        total = max(self.chunk_ms, len(text) * self.ms_per_char)
        return -(-total // self.chunk_ms) * self.chunk_ms

    async def synthesize(self, text: str) -> AsyncIterator[AudioChunk]:
        index = len(self.requests)
        self.requests.append(text)
        self.started_at.append(time.monotonic())
        self.usage.requests += 1
        self.usage.characters += len(text)
        fault = self._plan.for_request(index)
        if self.first_audio_s:
            await asyncio.sleep(self.first_audio_s)
        level = min(32000, self.amplitude + index * self.amplitude_step)
        chunk = (level * self._wave).astype("<i2").tobytes()
        chunks = self.duration_ms(text) // self.chunk_ms
        finished = False
        try:
            await _apply(fault, 0)
            for produced in range(1, chunks + 1):
                if produced > 1 and self.chunk_interval_s:
                    await asyncio.sleep(self.chunk_interval_s)
                self.usage.audio_seconds += self.chunk_ms / 1000
                yield AudioChunk(chunk, self.sample_rate)
                await _apply(fault, produced)
            finished = True
        finally:
            if not finished:
                self.abandoned += 1


# ---- STT --------------------------------------------------------------------------------

# Mean absolute sample value above which the fake STT calls audio speech (silence is 0,
# line noise a few hundred, speech thousands).
_SPEECH_LEVEL = 500


class FakeSTT(_Lifecycle, STTProvider):
    """Hears the utterances of `script`, in order.

    Audio louder than a noise floor counts as speech: every `partial_every_ms` of it yields a
    partial with as many words of the next scripted utterance as `ms_per_word` allows; on
    `end_utterance` (after `final_latency_s`) the full utterance comes as the final, or an
    empty final when no speech was heard or the script ran out. `emit` injects any result;
    `break_stream` makes `transcripts()` fail.
    """

    def __init__(
        self,
        config: ProviderConfig | None = None,
        *,
        script: Sequence[str] = (),
        sample_rate: int = 16000,
        final_latency_s: float = 0.0,
        partial_every_ms: int = 200,
        ms_per_word: int = 250,
        connect_error: Exception | None = None,
        connect_delay_s: float = 0.0,
        vendor: str = "fake",
    ) -> None:
        super().__init__(_config(config, vendor))
        self.vendor = vendor
        self.sample_rate = sample_rate
        self.script = list(script)
        self.final_latency_s = final_latency_s
        self.partial_every_ms = partial_every_ms
        self.ms_per_word = ms_per_word
        self.connect_error = connect_error
        self.connect_delay_s = connect_delay_s
        self.connects = 0
        self.closes = 0
        self.audio_ms = 0.0
        self.finals: list[str] = []
        self._speech_ms = 0.0
        self._next_partial_ms = float(partial_every_ms)
        self._results: asyncio.Queue[Transcript | Exception | None] = asyncio.Queue()

    async def connect(self) -> None:
        await self._do_connect()

    async def close(self) -> None:
        self.closes += 1
        self._results.put_nowait(None)

    def emit(self, transcript: Transcript) -> None:
        """Inject a result as if the engine had produced it."""
        self._results.put_nowait(transcript)

    def break_stream(self, error: Exception) -> None:
        """Make `transcripts()` raise `error` (a dropped connection, a vendor error)."""
        self._results.put_nowait(error)

    async def send_audio(self, pcm: bytes) -> None:
        samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2")
        ms = len(samples) * 1000 / self.sample_rate
        self.audio_ms += ms
        self.usage.audio_seconds += ms / 1000
        if len(samples) and float(np.abs(samples.astype(np.int32)).mean()) > _SPEECH_LEVEL:
            self._speech_ms += ms
            if self._speech_ms >= self._next_partial_ms and self.script:
                self._next_partial_ms += self.partial_every_ms
                words = self.script[0].split()
                heard = max(1, int(self._speech_ms // self.ms_per_word))
                self._results.put_nowait(Transcript(" ".join(words[:heard]), is_final=False))

    async def end_utterance(self) -> None:
        heard_speech = self._speech_ms > 0
        self._speech_ms = 0.0
        self._next_partial_ms = float(self.partial_every_ms)
        text = self.script.pop(0) if heard_speech and self.script else ""
        if heard_speech:
            self.finals.append(text)
        if self.final_latency_s:
            asyncio.get_running_loop().call_later(
                self.final_latency_s, self._results.put_nowait, Transcript(text, is_final=True)
            )
        else:
            self._results.put_nowait(Transcript(text, is_final=True))

    async def transcripts(self) -> AsyncIterator[Transcript]:
        while (item := await self._results.get()) is not None:
            if isinstance(item, Exception):
                raise item
            yield item
