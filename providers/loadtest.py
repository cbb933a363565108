"""Load-test providers: an STT, an LLM and a TTS with fixed, configurable latencies.

Registered under the vendor name `loadtest` only while `VOCALS_LOADTEST_PROVIDERS=1` is set
in the server's environment (absent from the catalog otherwise). They use no network and
almost no CPU, so a load test measures the server (call control, media, pipeline), and the
latency a caller hears minus these configured latencies is what the server itself adds.

- STT: a final transcript (`text`) `stt_delay_ms` after `end_utterance()`, which the pipeline
  calls at the VAD's end of speech.
- LLM: the first token `first_token_ms` after the request, then one token (a word) every
  `token_interval_ms`; `[END_CALL]` ends the reply once the caller has spoken
  `end_call_after_turns` times (0: never).
- TTS: the first audio `ttfb_ms` after the request, then `seconds_per_sentence` of a
  voiced-like 24 kHz signal in 20 ms chunks, as fast as the consumer takes it.
"""

from __future__ import annotations

import asyncio
import functools
import math
from collections.abc import AsyncIterator, Sequence
from typing import Annotated, Final

import msgspec
import numpy as np

from providers.base import (
    AudioChunk,
    LLMProvider,
    Message,
    ProviderConfig,
    ProviderKind,
    STTProvider,
    Transcript,
    TTSProvider,
)
from providers.registry import VendorInfo, env_flag, parse_options, register

VENDOR: Final = "loadtest"
ENABLE_VARIABLE: Final = "VOCALS_LOADTEST_PROVIDERS"
END_CALL: Final = "[END_CALL]"

TTS_SAMPLE_RATE: Final = 24000
STT_SAMPLE_RATE: Final = 16000
CHUNK_MS: Final = 20
_CHUNK_SAMPLES: Final = TTS_SAMPLE_RATE * CHUNK_MS // 1000

# Two short sentences of about seven words each: the splitter sends the first to TTS while
# the second streams, as with a real LLM's reply.
DEFAULT_REPLY: Final = "Sure, this is the load test agent. What else can I do for you?"
DEFAULT_TRANSCRIPT: Final = "I would like to know your opening hours please."

_Ms = Annotated[int, msgspec.Meta(ge=0, le=60_000)]

_enabled = env_flag(ENABLE_VARIABLE)


class LoadTestSTTOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The load-test recognizer: what it "hears" and how long it takes."""

    # Delay from the end of speech (the pipeline's end_utterance) to the final transcript.
    stt_delay_ms: _Ms = 300
    # The final transcript of every utterance.
    text: str = DEFAULT_TRANSCRIPT


class LoadTestLLMOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The load-test language model: a fixed reply at a fixed pace."""

    first_token_ms: _Ms = 200
    token_interval_ms: _Ms = 20
    # The reply, streamed one word per token.
    reply: Annotated[str, msgspec.Meta(min_length=1)] = DEFAULT_REPLY
    # Append [END_CALL] once the caller has spoken this many times; 0: never.
    end_call_after_turns: Annotated[int, msgspec.Meta(ge=0)] = 0


class LoadTestTTSOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The load-test synthesizer: a fixed time to first audio and a fixed length."""

    ttfb_ms: _Ms = 100
    seconds_per_sentence: Annotated[float, msgspec.Meta(gt=0, le=60)] = 1.5


@register(
    VendorInfo(
        kind=ProviderKind.STT,
        vendor=VENDOR,
        display_name="Load test STT",
        description="Fixed transcript after a fixed delay; for `vocals loadtest` only.",
        offline=True,
        sample_rate=STT_SAMPLE_RATE,
    ),
    options=LoadTestSTTOptions,
    enabled=_enabled,
)
class LoadTestSTT(STTProvider):
    """Emits `text` as a final transcript `stt_delay_ms` after each `end_utterance()`."""

    vendor = VENDOR
    sample_rate = STT_SAMPLE_RATE

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        self.options = parse_options(config, LoadTestSTTOptions)
        self._results: asyncio.Queue[Transcript | None] = asyncio.Queue()
        self._timers: set[asyncio.TimerHandle] = set()

    async def send_audio(self, pcm: bytes) -> None:
        self.usage.audio_seconds += len(pcm) / (2 * STT_SAMPLE_RATE)

    async def end_utterance(self) -> None:
        loop = asyncio.get_running_loop()
        timer: asyncio.TimerHandle

        def emit() -> None:
            self._timers.discard(timer)
            self._results.put_nowait(Transcript(self.options.text, is_final=True))

        timer = loop.call_later(self.options.stt_delay_ms / 1000, emit)
        self._timers.add(timer)

    async def transcripts(self) -> AsyncIterator[Transcript]:
        while (transcript := await self._results.get()) is not None:
            yield transcript

    async def close(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        self._results.put_nowait(None)


@register(
    VendorInfo(
        kind=ProviderKind.LLM,
        vendor=VENDOR,
        display_name="Load test LLM",
        description="Fixed reply at a fixed pace; for `vocals loadtest` only.",
        offline=True,
    ),
    options=LoadTestLLMOptions,
    enabled=_enabled,
)
class LoadTestLLM(LLMProvider):
    """Streams `reply` word by word on a fixed schedule from the request."""

    vendor = VENDOR

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        self.options = parse_options(config, LoadTestLLMOptions)

    def tokens(self, messages: Sequence[Message]) -> list[str]:
        """The deltas of the reply to `messages`."""
        words = self.options.reply.split()
        tokens = [word if i == 0 else " " + word for i, word in enumerate(words)]
        turns = sum(1 for m in messages if m.role == "user")
        after = self.options.end_call_after_turns
        if after and turns >= after:
            tokens.append(" " + END_CALL)
        return tokens

    async def stream(self, messages: Sequence[Message], system_prompt: str) -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        first_s = self.options.first_token_ms / 1000
        interval_s = self.options.token_interval_ms / 1000
        self.usage.requests += 1
        self.usage.input_tokens += sum(len(m.content.split()) for m in messages)
        for i, token in enumerate(self.tokens(messages)):
            # Sleep to an absolute schedule so the pace does not drift with the consumer.
            await asyncio.sleep(max(0.0, start + first_s + i * interval_s - loop.time()))
            self.usage.output_tokens += 1
            yield token


@register(
    VendorInfo(
        kind=ProviderKind.TTS,
        vendor=VENDOR,
        display_name="Load test TTS",
        description="Voiced-like audio of a fixed length per sentence; for `vocals loadtest`.",
        offline=True,
        sample_rate=TTS_SAMPLE_RATE,
    ),
    options=LoadTestTTSOptions,
    enabled=_enabled,
)
class LoadTestTTS(TTSProvider):
    """`seconds_per_sentence` of voiced-like audio per sentence, `ttfb_ms` after the request."""

    vendor = VENDOR
    sample_rate = TTS_SAMPLE_RATE

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        self.options = parse_options(config, LoadTestTTSOptions)

    async def synthesize(self, text: str) -> AsyncIterator[AudioChunk]:
        self.usage.requests += 1
        self.usage.characters += len(text)
        await asyncio.sleep(self.options.ttfb_ms / 1000)
        chunks = max(1, round(self.options.seconds_per_sentence * 1000 / CHUNK_MS))
        pcm = voiced_pcm(chunks)
        step = _CHUNK_SAMPLES * 2
        for offset in range(0, len(pcm), step):
            yield AudioChunk(pcm[offset : offset + step], TTS_SAMPLE_RATE)
            await asyncio.sleep(0)


# A speech-like signal: a 120 Hz glottal-like harmonic series (1/k amplitudes), pitch
# wandering by 10 %, modulated at 4 syllables per second with short dips, so VADs, codecs and
# listeners treat it as voice rather than silence or a pure tone.
_F0_HZ: Final = 120.0
_HARMONICS: Final = 12
_SYLLABLE_HZ: Final = 4.0
_PEAK: Final = 0.3 * 32767


@functools.lru_cache(maxsize=16)
def voiced_pcm(chunks: int) -> bytes:
    """`chunks` x 20 ms of the voiced-like signal as PCM16 LE at 24 kHz (cached)."""
    t = np.arange(chunks * _CHUNK_SAMPLES) / TTS_SAMPLE_RATE
    f0 = _F0_HZ * (1 + 0.1 * np.sin(2 * math.pi * 0.7 * t))
    phase = 2 * math.pi * np.cumsum(f0) / TTS_SAMPLE_RATE
    wave = sum(np.sin(k * phase) / k for k in range(1, _HARMONICS + 1))
    envelope = 0.25 + 0.75 * np.abs(np.sin(math.pi * _SYLLABLE_HZ * t)) ** 0.5
    signal = wave * envelope
    signal *= _PEAK / max(float(np.max(np.abs(signal))), 1e-9)
    return bytes(signal.astype("<i2").tobytes())
