"""Offline speech-to-text with PocketSphinx 5 and the en-US model its wheel carries.

One decoder per call, reused by later calls: creating one loads the acoustic model while
holding the GIL, which would stall every other call's audio for about 0.4 s. Caller audio
(16 kHz; the pipeline upsamples telephone audio) passes a speech gate (silence is not
decoded) and is fed to the decoder in ~100 ms batches on a worker thread, giving partial
hypotheses while the caller speaks. `end_utterance()` emits the final transcript; for the
first utterances of a call it re-decodes the utterance in one pass
with the cepstral mean taken over the utterance itself, before the live mean has adapted."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections import deque
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any

import msgspec
import structlog
from pocketsphinx import Decoder

from providers.base import ProviderConfig, ProviderError, ProviderKind, STTProvider, Transcript
from providers.registry import ProviderConfigError, VendorInfo, parse_options, register
from providers.stt.speech_gate import SpeechGate

log = structlog.get_logger(__name__)

SAMPLE_RATE = 16000
_BYTES_PER_SECOND = SAMPLE_RATE * 2

# Initial cepstral means for telephone speech. A cold decoder starts from the model's
# "40,3,-1,0,..." (wideband microphone speech) and misrecognizes the first seconds of a call.
# Learned by `python -m bench.providers_pocketsphinx_cmn`: piper speech (joe voice) at -10 dB,
# resampled to 8 kHz, µ-law encoded and decoded, upsampled to 16 kHz with media's resampler,
# streamed through one decoder in 20 ms chunks for ten utterances; these are the live CMN
# values it converged to (c0 tracks loudness: about 49 at full scale, 31 at -20 dB; the
# others barely move). Piper's synthesis is randomized, so a rerun differs in the decimals.
TELEPHONE_CMNINIT = (
    "39.44,28.46,-33.23,34.02,-15.56,-3.75,10.05,-27.75,15.80,-4.80,1.43,12.55,-16.76"
)

# Feed the decoder in batches this long: a thread hop per 20 ms frame would cost more than
# the decoding, and partials every 100 ms are as fast as a caller can perceive.
FEED_BYTES = _BYTES_PER_SECOND // 10

# Beyond this, the final comes from the streaming pass instead of a re-decode, so a long
# monologue never costs seconds of decoding before the agent answers.
MAX_REDECODE_SECONDS = 15.0

# Re-decoding (cepstral mean over the whole utterance) helps only while the live mean has
# not adapted to this caller's line: on 12 piper sentences through µ-law, a fresh decoder's
# word error rate went from 22.9/12.0/21.7 % (streaming, at -20/-10/0 dB) to
# 21.7/16.9/13.3 % (re-decoded), while a decoder warmed by earlier utterances gave identical
# results both ways. It delays the final by ~0.25 s per second of utterance on a loaded
# 2-core machine (0.9 s for a 3.4 s utterance, against 0.08 s for the streaming final), so
# only a call's first utterance gets it.
REDECODE_FIRST = 1

# Decoding is CPU-bound and releases the GIL: one thread per core is all that helps, and a
# pool of its own keeps it from queueing behind (or in front of) other threaded work.
_DECODING = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="pocketsphinx")

# Idle decoders kept per setting for the next calls: a decoder is some 25 MB, and creating
# one stalls the event loop for ~0.4 s (measured: a 10 ms ticker saw 360-395 ms gaps).
IDLE_DECODERS_MAX = 32


class _DecoderPool:
    """Idle decoders by (cmninit, beam); taken and given back from the decoding threads."""

    def __init__(self, max_idle: int) -> None:
        self._max_idle = max_idle
        self._idle: dict[tuple[str, float], list[Any]] = {}
        self._lock = threading.Lock()

    def take(self, key: tuple[str, float]) -> Any | None:
        with self._lock:
            idle = self._idle.get(key)
            return idle.pop() if idle else None

    def give(self, key: tuple[str, float], decoder: Any) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if sum(len(v) for v in self._idle.values()) < self._max_idle:
                idle.append(decoder)


_DECODERS = _DecoderPool(IDLE_DECODERS_MAX)

_NUMBER = r"-?\d+(\.\d+)?"
_CMNINIT_PATTERN = rf"^$|^{_NUMBER}(,{_NUMBER}){{12}}$"


class PocketsphinxOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Per-agent settings of the PocketSphinx recognizer."""

    # Re-decode the final of the call's first N utterances (see REDECODE_FIRST); 0: never.
    redecode_first: Annotated[int, msgspec.Meta(ge=0)] = REDECODE_FIRST
    # Emit partial hypotheses while the caller speaks.
    partials: bool = True
    # 13 comma-separated initial cepstral means; empty: the telephone values above.
    cmninit: Annotated[str, msgspec.Meta(pattern=_CMNINIT_PATTERN)] = ""
    # Decoder beam; wider is slower and a little more accurate.
    beam: Annotated[float, msgspec.Meta(gt=0, lt=1)] = 1e-48


class _End:
    """Marks the end of an utterance in the feed queue."""


_END = _End()


async def preload() -> None:
    """Leave one decoder with the default settings in the pool, so that the first call of the
    process does not stall the others while it loads."""
    stt = PocketsphinxSTT(ProviderConfig(vendor="pocketsphinx"))
    await stt.connect()
    await stt.close()


@register(
    VendorInfo(
        kind=ProviderKind.STT,
        vendor="pocketsphinx",
        display_name="PocketSphinx (offline)",
        description="CMU PocketSphinx with its bundled US English model; no account, no network.",
        models=["en-us"],
        default_model="en-us",
        offline=True,
        sample_rate=SAMPLE_RATE,
    ),
    options=PocketsphinxOptions,
)
class PocketsphinxSTT(STTProvider):
    """Streaming recognition of one call's caller audio with a private decoder."""

    vendor = "pocketsphinx"
    sample_rate = SAMPLE_RATE

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        if not config.language.lower().startswith("en"):
            raise ProviderConfigError(
                f"pocketsphinx: only English is bundled, not {config.language!r}"
            )
        self.options = parse_options(config, PocketsphinxOptions)
        self._decoder: Any = None
        self._gate = SpeechGate(SAMPLE_RATE)
        self._pending = bytearray()
        self._feed: deque[bytearray | _End] = deque()
        self._wake = asyncio.Event()
        self._results: asyncio.Queue[Transcript | ProviderError | None] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._closed = False
        self._failure: ProviderError | None = None
        # Worker-thread state: the utterance so far and whether the decoder is inside one.
        self._utterance = bytearray()
        # Held by each job on the decoding threads, so the decoder goes back to the pool only
        # once a job still running after `close()` has finished with it.
        self._thread_lock = threading.Lock()
        self._in_utterance = False
        self._last_partial = ""
        self._utterances = 0

    async def connect(self) -> None:
        if self._worker is not None:
            return
        loop = asyncio.get_running_loop()
        self._decoder = await loop.run_in_executor(_DECODING, self._new_decoder)
        self._worker = asyncio.create_task(self._run(), name="pocketsphinx-decoder")

    @property
    def _pool_key(self) -> tuple[str, float]:
        return (self.options.cmninit or TELEPHONE_CMNINIT, self.options.beam)

    def _new_decoder(self) -> Any:
        cmninit, beam = self._pool_key
        reused = _DECODERS.take(self._pool_key)
        if reused is not None:
            reused.set_cmn(cmninit)  # forget the last caller's line
            return reused
        try:
            return Decoder(cmninit=cmninit, beam=beam, loglevel="FATAL")
        except (RuntimeError, ValueError) as exc:
            message = f"pocketsphinx: decoder failed to start: {exc}"
            raise ProviderError(message, retryable=False) from exc

    def _retire(self, decoder: Any) -> None:
        """Hand the decoder to the next call (on a decoding thread, after any job in flight)."""
        with self._thread_lock:
            if self._in_utterance:
                decoder.end_utt()
                self._in_utterance = False
            _DECODERS.give(self._pool_key, decoder)

    @property
    def decoded_seconds(self) -> float:
        """Audio the decoder was given (the speech gate drops silence long before speech)."""
        return self._gate.passed_bytes / _BYTES_PER_SECOND

    async def send_audio(self, pcm: bytes) -> None:
        self._check_open()
        self.usage.audio_seconds += len(pcm) / _BYTES_PER_SECOND
        self._gate.push(pcm, self._pending)
        if len(self._pending) >= FEED_BYTES:
            self._flush_pending()
            self._wake.set()

    async def end_utterance(self) -> None:
        self._check_open()
        self._flush_pending()
        self._feed.append(_END)
        self._wake.set()

    async def transcripts(self) -> AsyncIterator[Transcript]:
        while True:
            result = await self._results.get()
            if result is None:
                return
            if isinstance(result, ProviderError):
                raise result
            yield result

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        self._results.put_nowait(None)
        decoder, self._decoder = self._decoder, None
        if decoder is not None and self._failure is None:
            await asyncio.get_running_loop().run_in_executor(_DECODING, self._retire, decoder)

    def _check_open(self) -> None:
        if self._failure is not None:
            raise self._failure
        if self._worker is None or self._closed:
            raise ProviderError("pocketsphinx: not connected", retryable=False)

    def _flush_pending(self) -> None:
        if not self._pending:
            return
        # Audio queued while the worker is busy joins the batch before it, not a new item.
        if self._feed and isinstance(self._feed[-1], bytearray):
            self._feed[-1] += self._pending
        else:
            self._feed.append(bytearray(self._pending))
        self._pending.clear()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._feed:
                    item = self._feed.popleft()
                    if isinstance(item, _End):
                        text = await loop.run_in_executor(_DECODING, self._finalize)
                        self.usage.requests += 1
                        self._results.put_nowait(Transcript(text, is_final=True))
                        continue
                    partial = await loop.run_in_executor(_DECODING, self._decode, bytes(item))
                    if partial is not None:
                        self._results.put_nowait(Transcript(partial, is_final=False))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("pocketsphinx_failed", error=str(exc))
            self._failure = ProviderError(f"pocketsphinx: {exc}", retryable=False)
            self._results.put_nowait(self._failure)

    # The methods below run on a worker thread, one at a time per call.

    def _decode(self, pcm: bytes) -> str | None:
        """Feed audio; return a new partial hypothesis, or None when unchanged or disabled."""
        with self._thread_lock:
            return self._decode_locked(pcm)

    def _decode_locked(self, pcm: bytes) -> str | None:
        decoder = self._decoder
        if not self._in_utterance:
            decoder.start_utt()
            self._in_utterance = True
        self._utterance += pcm
        decoder.process_raw(pcm, False, False)
        if not self.options.partials:
            return None
        hypothesis = decoder.hyp()
        text = hypothesis.hypstr if hypothesis is not None else ""
        if not text or text == self._last_partial:
            return None
        self._last_partial = text
        return str(text)

    def _finalize(self) -> str:
        """End the utterance and return its final text (empty when nothing was heard)."""
        with self._thread_lock:
            return self._finalize_locked()

    def _finalize_locked(self) -> str:
        decoder = self._decoder
        if not self._in_utterance:
            return ""
        decoder.end_utt()
        text = _hypothesis_text(decoder)
        utterance = bytes(self._utterance)
        short_enough = len(utterance) <= MAX_REDECODE_SECONDS * _BYTES_PER_SECOND
        self._utterances += 1
        if self._utterances <= self.options.redecode_first and short_enough:
            decoder.start_utt()
            decoder.process_raw(utterance, False, True)
            decoder.end_utt()
            text = _hypothesis_text(decoder) or text
        self._utterance.clear()
        self._in_utterance = False
        self._last_partial = ""
        return text


def _hypothesis_text(decoder: Any) -> str:
    hypothesis = decoder.hyp()
    return str(hypothesis.hypstr) if hypothesis is not None else ""
