"""What the cloud TTS vendors share: vendor audio bytes to PCM16 chunks, and the stream loop.

A vendor module supplies an *audio source*: an async generator yielding the audio bytes of one
sentence as they arrive (from an HTTP body or WebSocket messages) and raising `ProviderError`
on failure. `stream_speech` turns it into `AudioChunk`s:

- bytes become whole PCM16 samples at once (no waiting for the whole file): an odd byte split
  across two network reads is carried to the next one, a WAV header is parsed and stripped,
  µ-law/A-law is decoded with `media.g711` (passing it straight through to a G.711 leg would
  save the decode and re-encode, about 3 µs per 20 ms frame: see `bench.cloud_tts`);
- opening the source and reading up to the first audio is retried on transient failures
  (429/5xx/timeouts/dropped connections, never 401/403); once audio has been handed out, a
  failure propagates, since retrying would make the caller hear the start twice.
"""

from __future__ import annotations

import struct
from collections.abc import AsyncGenerator, Callable
from enum import StrEnum

import msgspec

from media.g711 import alaw_decode, ulaw_decode
from providers.base import AudioChunk, ProviderError, ProviderUsage
from providers.cloud.options import CloudOptions
from providers.retry import RetryPolicy, with_retries

AudioSource = Callable[[], AsyncGenerator[bytes, None]]

_RIFF_PREFIX_BYTES = 12  # "RIFF" <size> "WAVE"
_CHUNK_HEADER_BYTES = 8  # id + little-endian size
# Vendors send the real size or 0xFFFFFFFF while streaming; a header bigger than this is not
# a header we can stream (cue/label chunks are a few KB at most).
_MAX_WAV_HEADER_BYTES = 1 << 20
_WAV_PCM, _WAV_ALAW, _WAV_ULAW = 1, 6, 7


class WireEncoding(StrEnum):
    """Sample encodings TTS vendors send."""

    PCM16 = "pcm16"  # signed 16-bit little-endian
    ULAW = "ulaw"
    ALAW = "alaw"


class WireAudio(msgspec.Struct, frozen=True):
    """The audio a vendor was asked for (a WAV header, if one comes, overrides it)."""

    encoding: WireEncoding
    sample_rate: int


class CloudTTSOptions(CloudOptions, kw_only=True):
    """Connection settings every cloud TTS vendor accepts (base URL, timeouts, attempts)."""

    # Open the connection when the call starts, sparing the first sentence a TLS handshake.
    prewarm: bool = True


class PcmDecoder:
    """Turns one sentence's vendor audio bytes into PCM16 as they arrive."""

    def __init__(self, vendor: str, wire: WireAudio) -> None:
        self.vendor = vendor
        self.encoding = wire.encoding
        self.sample_rate = wire.sample_rate
        self._pending = b""
        # Until the first 12 bytes are in we cannot tell a WAV header from raw audio.
        self._sniffing = True
        self._in_header = False

    def feed(self, data: bytes) -> bytes:
        """PCM16 for `data` (possibly empty while a header or a half sample is pending)."""
        if not data:
            return b""
        if self._sniffing or self._in_header:
            self._pending += data
            if self._sniffing:
                if len(self._pending) < _RIFF_PREFIX_BYTES:
                    return b""
                self._sniffing = False
                head = self._pending[:_RIFF_PREFIX_BYTES]
                self._in_header = head[:4] == b"RIFF" and head[8:12] == b"WAVE"
            if self._in_header and not self._parse_header():
                return b""
            data, self._pending = self._pending, b""
        return self._decode(data)

    def finish(self) -> bytes:
        """The PCM16 still held back when the stream ends (a lone odd byte is dropped)."""
        if self._in_header:
            raise ProviderError(f"{self.vendor}: audio ended inside its WAV header", retryable=True)
        data, self._pending = self._pending, b""
        self._sniffing = False
        if self.encoding is WireEncoding.PCM16 and len(data) % 2:
            data = data[:-1]
        return self._decode(data) if data else b""

    def _decode(self, data: bytes) -> bytes:
        if self.encoding is WireEncoding.ULAW:
            return ulaw_decode(data)
        if self.encoding is WireEncoding.ALAW:
            return alaw_decode(data)
        if self._pending:
            data = self._pending + data
            self._pending = b""
        if len(data) % 2:
            self._pending = data[-1:]
            data = data[:-1]
        return data

    def _parse_header(self) -> bool:
        """Consume the WAV header from `_pending` once whole; False while more is needed."""
        buf = self._pending
        offset = _RIFF_PREFIX_BYTES
        while len(buf) >= offset + _CHUNK_HEADER_BYTES:
            chunk_id = buf[offset : offset + 4]
            (size,) = struct.unpack_from("<I", buf, offset + 4)
            body = offset + _CHUNK_HEADER_BYTES
            if chunk_id == b"data":
                self._pending = buf[body:]
                self._in_header = False
                return True
            if size > _MAX_WAV_HEADER_BYTES:
                raise ProviderError(f"{self.vendor}: WAV chunk too large", retryable=False)
            end = body + size + (size & 1)  # RIFF chunks are padded to even sizes
            if len(buf) < end:
                return False
            if chunk_id == b"fmt ":
                self._read_fmt(buf[body : body + size])
            offset = end
        if len(buf) > _MAX_WAV_HEADER_BYTES:
            raise ProviderError(f"{self.vendor}: WAV header never ended", retryable=False)
        return False

    def _read_fmt(self, fmt: bytes) -> None:
        if len(fmt) < 16:
            raise ProviderError(f"{self.vendor}: truncated WAV fmt chunk", retryable=False)
        tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", fmt)
        if channels != 1:
            raise ProviderError(f"{self.vendor}: {channels}-channel audio", retryable=False)
        if tag == _WAV_PCM and bits == 16:
            self.encoding = WireEncoding.PCM16
        elif tag == _WAV_ULAW:
            self.encoding = WireEncoding.ULAW
        elif tag == _WAV_ALAW:
            self.encoding = WireEncoding.ALAW
        else:
            message = f"{self.vendor}: unsupported WAV audio (format {tag}, {bits} bits)"
            raise ProviderError(message, retryable=False)
        self.sample_rate = rate


async def stream_speech(
    vendor: str,
    text: str,
    source: AudioSource,
    wire: WireAudio,
    policy: RetryPolicy,
    usage: ProviderUsage,
) -> AsyncGenerator[AudioChunk, None]:
    """Yield `source`'s audio as PCM16 chunks, retrying only until the first audio arrived."""
    if not text.strip():
        return

    async def first_audio() -> tuple[AsyncGenerator[bytes, None], PcmDecoder, bytes]:
        stream = source()
        decoder = PcmDecoder(vendor, wire)
        try:
            async for data in stream:
                pcm = decoder.feed(data)
                if pcm:
                    return stream, decoder, pcm
            return stream, decoder, decoder.finish()
        except BaseException:
            await stream.aclose()
            raise

    stream, decoder, pcm = await with_retries(first_audio, policy, what=f"{vendor} speech")
    usage.requests += 1
    usage.characters += len(text)
    try:
        while True:
            if pcm:
                usage.audio_seconds += len(pcm) / 2 / decoder.sample_rate
                yield AudioChunk(pcm, decoder.sample_rate)
            try:
                data = await anext(stream)
            except StopAsyncIteration:
                break
            pcm = decoder.feed(data)
        tail = decoder.finish()
        if tail:
            usage.audio_seconds += len(tail) / 2 / decoder.sample_rate
            yield AudioChunk(tail, decoder.sample_rate)
    finally:
        await stream.aclose()
