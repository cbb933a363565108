"""Synthesized PCM at any rate to the leg's wire codec and rate."""

from __future__ import annotations

from media.codec import encode_from_pcm
from media.formats import AudioFormat
from media.resample import StreamResampler
from providers.base import AudioChunk


class WireEncoder:
    """Resamples and encodes one utterance's PCM chunks, keeping resampler state across them."""

    def __init__(self, fmt: AudioFormat) -> None:
        self._fmt = fmt
        self._resampler: StreamResampler | None = None

    def feed(self, chunk: AudioChunk) -> bytes:
        """Wire bytes for `chunk` (the resampler may hold a few ms back until `finish`)."""
        tail = b""
        if self._resampler is None or self._resampler.in_rate != chunk.sample_rate:
            tail = self.finish()
            self._resampler = StreamResampler(chunk.sample_rate, self._fmt.sample_rate)
        pcm = self._resampler.process(chunk.pcm)
        return tail + encode_from_pcm(pcm, self._fmt) if pcm else tail

    def finish(self) -> bytes:
        """The held-back tail; the encoder can then be fed a new utterance."""
        if self._resampler is None:
            return b""
        pcm = self._resampler.flush()
        self._resampler = None
        return encode_from_pcm(pcm, self._fmt) if pcm else b""


def encode_speech(pcm: bytes, sample_rate: int, fmt: AudioFormat) -> bytes:
    """A whole utterance to wire bytes at once (cached speech)."""
    encoder = WireEncoder(fmt)
    return encoder.feed(AudioChunk(pcm, sample_rate)) + encoder.finish()
