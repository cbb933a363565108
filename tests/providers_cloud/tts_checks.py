"""The checks every cloud TTS provider passes against its vendor's fake.

Each `test_tts_<vendor>.py` builds its provider through the registry and runs these: streamed
happy path, bad key, 429 retried with backoff, mid-stream disconnect, credential check.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable

import pytest

from media.g711 import alaw_decode, ulaw_decode
from providers.base import AudioChunk, ProviderError, TTSProvider
from tests.fakes.tts_server import Failure, FakeTTSServer, encode, tone_pcm

TEXT = "Thanks for calling, how can I help you today?"
# Backoff from a 0.25 s base with jitter in [d/2, d]: the first retry waits at least 0.125 s.
MIN_FIRST_BACKOFF = 0.12

MakeProvider = Callable[[str | None], TTSProvider]


def expected_pcm(fake: FakeTTSServer, sample_rate: int, encoding: str) -> bytes:
    """The PCM16 a provider should yield for the fake's tone sent in `encoding`."""
    wire = encode(tone_pcm(sample_rate, fake.seconds), encoding)
    if encoding == "ulaw":
        return ulaw_decode(wire)
    if encoding == "alaw":
        return alaw_decode(wire)
    return wire[: len(wire) // 2 * 2]


async def collect(provider: TTSProvider, text: str = TEXT) -> tuple[list[AudioChunk], list[float]]:
    """All chunks of one sentence with the monotonic time each arrived."""
    chunks: list[AudioChunk] = []
    arrivals: list[float] = []
    async for chunk in provider.synthesize(text):
        chunks.append(chunk)
        arrivals.append(time.monotonic())
    return chunks, arrivals


async def check_streams(
    make: MakeProvider, fake: FakeTTSServer, sample_rate: int, encoding: str
) -> list[AudioChunk]:
    """Audio arrives in several chunks, the first before the fake sent its last piece."""
    provider = make(fake.api_key)
    try:
        chunks, arrivals = await collect(provider)
    finally:
        await provider.close()
    assert len(chunks) >= 3
    assert {chunk.sample_rate for chunk in chunks} == {sample_rate}
    assert all(len(chunk.pcm) % 2 == 0 and chunk.pcm for chunk in chunks)
    assert arrivals[0] < fake.sent_at[-1]
    assert b"".join(chunk.pcm for chunk in chunks) == expected_pcm(fake, sample_rate, encoding)
    assert provider.usage.characters == len(TEXT)
    assert provider.usage.requests == 1
    assert provider.usage.audio_seconds == pytest.approx(fake.seconds, abs=0.01)
    return chunks


async def check_bad_key(make: MakeProvider, fake: FakeTTSServer) -> None:
    """A refused key fails at once, clearly, after exactly one request."""
    provider = make("wrong-key")
    try:
        with pytest.raises(ProviderError, match="credential refused") as caught:
            await collect(provider)
    finally:
        await provider.close()
    assert caught.value.retryable is False
    assert caught.value.status in (401, 403)
    assert len(fake.requests) == 1
    assert provider.usage.characters == 0


async def check_429_retried(make: MakeProvider, fake: FakeTTSServer) -> None:
    """A 429 is retried after a backoff and the retry's audio is played."""
    fake.failures = [Failure(429)]
    provider = make(fake.api_key)
    try:
        chunks, _ = await collect(provider)
    finally:
        await provider.close()
    assert chunks
    first, second = (request.at for request in fake.requests)
    assert second - first >= MIN_FIRST_BACKOFF
    assert provider.usage.requests == 1


async def check_retry_after(make: MakeProvider, fake: FakeTTSServer) -> None:
    """A 429 with `Retry-After` waits that long before the retry."""
    fake.failures = [Failure(429, retry_after=0.5)]
    provider = make(fake.api_key)
    try:
        await collect(provider)
    finally:
        await provider.close()
    first, second = (request.at for request in fake.requests)
    assert second - first >= 0.45


async def check_disconnect(make: MakeProvider, fake: FakeTTSServer) -> None:
    """A connection cut after audio started raises `ProviderError` and is not retried."""
    fake.disconnect_after = 2
    provider = make(fake.api_key)
    received: list[AudioChunk] = []

    async def drain() -> None:
        async for chunk in provider.synthesize(TEXT):
            received.append(chunk)

    try:
        with pytest.raises(ProviderError):
            await drain()
    finally:
        await provider.close()
    assert received
    assert len(fake.requests) == 1


async def check_credentials(make: MakeProvider, fake: FakeTTSServer) -> None:
    """The credential check passes with the fake's key and refuses another, without retrying."""
    good = make(fake.api_key)
    bad = make("wrong-key")
    try:
        await good.check_credentials()
        with pytest.raises(ProviderError, match="credential refused") as caught:
            await bad.check_credentials()
    finally:
        await good.close()
        await bad.close()
    assert caught.value.retryable is False
    assert len(fake.requests) == 2


async def check_connect_prewarms(make: MakeProvider, fake: FakeTTSServer) -> None:
    """`connect()` opens the connection the first sentence then uses (no handshake to wait)."""
    provider = make(fake.api_key)
    try:
        await provider.connect()
        assert [method for method, _ in fake.peer_ports] == ["HEAD"]
        await collect(provider)
        await collect(provider)
    finally:
        await provider.close()
    assert len({port for _, port in fake.peer_ports}) == 1
    assert len(fake.requests) == 2


async def check_abandon(make: MakeProvider, fake: FakeTTSServer) -> None:
    """Barge-in: dropping a sentence mid-stream returns at once; the next sentence works."""
    # Pieces 0.4 s apart: a client that waited for the stream would take over a second.
    fake.chunk_delay = 0.4
    provider = make(fake.api_key)
    try:
        speech = provider.synthesize(TEXT)
        assert isinstance(speech, AsyncGenerator)
        await anext(speech)
        started = time.monotonic()
        await speech.aclose()
        assert time.monotonic() - started < 0.3
        fake.chunk_delay = 0.0
        chunks, _ = await collect(provider, "Next one.")
    finally:
        await provider.close()
    assert chunks
    assert provider.usage.characters == len(TEXT) + len("Next one.")
