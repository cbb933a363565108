"""Process-wide cache of fixed utterances (welcome, apology, voicemail message).

Cached per (TTS vendor, voice, text) so the welcome's first frame leaves as soon as the leg is
up; the controller pre-warms it before the leg connects (`prewarm_agent`).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

import structlog

from media.formats import AudioFormat
from pipeline.agent import AgentSettings, VoicemailAction
from pipeline.wire_audio import encode_speech
from providers.base import TTSProvider

log = structlog.get_logger(__name__)

# Distinct fixed utterances kept per process: a few per agent, so hundreds of agents fit in a
# few hundred MB at worst (a 5 s greeting at 22 kHz is about 220 kB).
CACHE_ENTRIES = 512

CacheKey = tuple[str, str, str]


class CachedSpeech:
    """One utterance's PCM, with its wire encodings made on demand and kept."""

    def __init__(self, text: str, pcm: bytes, sample_rate: int) -> None:
        self.text = text
        self.pcm = pcm
        self.sample_rate = sample_rate
        self._wire: dict[AudioFormat, bytes] = {}

    @property
    def duration_ms(self) -> int:
        return len(self.pcm) * 1000 // (2 * self.sample_rate)

    def wire(self, fmt: AudioFormat) -> bytes:
        """The utterance in `fmt`, encoded once per format."""
        cached = self._wire.get(fmt)
        if cached is None:
            cached = self._wire[fmt] = encode_speech(self.pcm, self.sample_rate, fmt)
        return cached


def cache_key(tts: TTSProvider, text: str) -> CacheKey:
    return (tts.vendor, tts.config.voice or "", text)


class SpeechCache:
    """LRU of synthesized utterances; concurrent requests for one key synthesize once."""

    def __init__(self, max_entries: int = CACHE_ENTRIES) -> None:
        self._entries: OrderedDict[CacheKey, CachedSpeech] = OrderedDict()
        self._pending: dict[CacheKey, asyncio.Future[CachedSpeech]] = {}
        self._max_entries = max_entries

    def get(self, tts: TTSProvider, text: str) -> CachedSpeech | None:
        key = cache_key(tts, text)
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    async def get_or_synthesize(self, tts: TTSProvider, text: str) -> CachedSpeech:
        """The cached utterance, synthesizing it with `tts` (connected) on a miss."""
        entry = self.get(tts, text)
        if entry is not None:
            return entry
        key = cache_key(tts, text)
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[CachedSpeech] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            entry = await _synthesize(tts, text)
        except BaseException as e:
            future.set_exception(e)
            future.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        finally:
            del self._pending[key]
        future.set_result(entry)
        self._entries[key] = entry
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
        return entry


async def _synthesize(tts: TTSProvider, text: str) -> CachedSpeech:
    parts: list[bytes] = []
    rate: int | None = None
    async for chunk in tts.synthesize(text):
        if rate is not None and chunk.sample_rate != rate:
            raise ValueError("TTS changed sample rate inside one utterance")
        rate = chunk.sample_rate
        parts.append(chunk.pcm)
    if rate is None:
        raise ValueError(f"TTS {tts.vendor} produced no audio for {text!r}")
    return CachedSpeech(text, b"".join(parts), rate)


SPEECH_CACHE = SpeechCache()


def fixed_utterances(agent: AgentSettings) -> list[str]:
    """The texts an agent's calls speak verbatim: worth synthesizing ahead."""
    texts = [agent.welcome_message, agent.apology_message]
    if agent.voicemail.action is VoicemailAction.LEAVE_MESSAGE and agent.voicemail.message:
        texts.append(agent.voicemail.message)
    return [t for t in texts if t.strip()]


async def prewarm_agent(
    agent: AgentSettings,
    tts: TTSProvider,
    fmt: AudioFormat | None = None,
    cache: SpeechCache = SPEECH_CACHE,
) -> None:
    """Synthesize (and encode for `fmt`) the agent's fixed utterances with a connected `tts`.

    Call it when the call arrives, before the media leg is up. Failures are logged, not
    raised: the pipeline synthesizes again when it needs the audio.
    """
    for text in fixed_utterances(agent):
        try:
            entry = await cache.get_or_synthesize(tts, text)
            if fmt is not None:
                entry.wire(fmt)
        except Exception as e:
            log.warning("prewarm_failed", vendor=tts.vendor, text=text[:40], error=str(e))
