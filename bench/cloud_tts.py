"""Cloud TTS client costs, measured against the local vendor fakes (loopback, no TLS).

    uv run --frozen --no-sync python -m bench.cloud_tts

1. Outbound audio per 20 ms frame to a µ-law 8 kHz leg, by what the vendor sends: µ-law 8 kHz
   (decoded to PCM by the provider, encoded again by the pipeline), the same passed straight
   through (the optimisation a G.711 pass-through would give), PCM 8 kHz (encode only) and
   PCM 24 kHz (OpenAI: resample 24 -> 8 kHz, then encode).
2. Our client's time to first audio per vendor, median over sentences on a warm connection:
   the fake answers at once, so this is our stack (request, parsing, decoding) plus loopback.
   Real figures add the vendor's own latency and the network on top.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable

from media.g711 import ulaw_decode, ulaw_encode
from media.resample import StreamResampler
from providers import builtin
from providers.base import ProviderConfig, TTSProvider
from providers.registry import build
from providers.tts.streaming import PcmDecoder, WireAudio, WireEncoding
from tests.fakes.deepgram_tts import FakeDeepgramTTS
from tests.fakes.elevenlabs_tts import FakeElevenLabsTTS
from tests.fakes.fish_audio_tts import FakeFishAudioTTS
from tests.fakes.openai_tts import FakeOpenAITTS
from tests.fakes.qwen_tts import FakeQwenTTS
from tests.fakes.resemble_tts import FakeResembleTTS
from tests.fakes.tts_server import FakeTTSServer, tone_pcm

FRAMES = 5000
RUNS = 5
SENTENCES = 30


def _per_frame_us(step: Callable[[int], object]) -> float:
    results = []
    for _ in range(RUNS):
        start = time.perf_counter()
        for i in range(FRAMES):
            step(i)
        results.append((time.perf_counter() - start) / FRAMES * 1e6)
    return statistics.median(results)


def outbound_costs() -> dict[str, float]:
    """µs per 20 ms outbound frame, from the vendor's bytes to µ-law 8 kHz for the leg."""
    ulaw_frames = [ulaw_encode(tone_pcm(8000, 0.02, 300 + i)) for i in range(50)]
    pcm8_frames = [tone_pcm(8000, 0.02, 300 + i) for i in range(50)]
    pcm24_frames = [tone_pcm(24000, 0.02, 300 + i) for i in range(50)]
    decoder = PcmDecoder("bench", WireAudio(WireEncoding.ULAW, 8000))
    decoder.feed(b"\xff" * 12)  # past the WAV sniffing
    pcm_decoder = PcmDecoder("bench", WireAudio(WireEncoding.PCM16, 24000))
    pcm_decoder.feed(b"\x00" * 12)
    resampler = StreamResampler(24000, 8000)
    return {
        "ulaw 8k -> pcm -> ulaw (now)": _per_frame_us(
            lambda i: ulaw_encode(decoder.feed(ulaw_frames[i % 50]))
        ),
        "ulaw 8k pass-through (candidate)": _per_frame_us(lambda i: bytes(ulaw_frames[i % 50])),
        "pcm 8k -> ulaw": _per_frame_us(lambda i: ulaw_encode(pcm8_frames[i % 50])),
        "pcm 24k -> resample 8k -> ulaw": _per_frame_us(
            lambda i: ulaw_encode(resampler.process(pcm_decoder.feed(pcm24_frames[i % 50])))
        ),
        "ulaw decode only": _per_frame_us(lambda i: ulaw_decode(ulaw_frames[i % 50])),
    }


def _fakes() -> list[tuple[str, FakeTTSServer, dict[str, object]]]:
    return [
        ("deepgram", FakeDeepgramTTS(), {}),
        ("openai", FakeOpenAITTS(), {}),
        ("elevenlabs", FakeElevenLabsTTS(), {}),
        ("elevenlabs", FakeElevenLabsTTS(), {"transport": "websocket"}),
        ("qwen", FakeQwenTTS(), {}),
        ("resemble", FakeResembleTTS(), {}),
        ("fish_audio", FakeFishAudioTTS(), {}),
    ]


async def first_audio_ms() -> dict[str, float]:
    """Median ms from `synthesize()` to the first chunk, per vendor, warm connection."""
    builtin.load_all()
    results: dict[str, float] = {}
    for vendor, fake, options in _fakes():
        fake.chunk_delay = 0.0
        fake.seconds = 0.2
        await fake.start()
        base = f"{fake.base_url}/v1" if vendor == "openai" else fake.base_url
        config = ProviderConfig(
            vendor=vendor,
            api_key=fake.api_key,
            voice="bench-voice" if vendor == "resemble" else None,
            options={"base_url": base, **options},
        )
        provider = build("tts", config)
        assert isinstance(provider, TTSProvider)
        try:
            await provider.connect()
            samples = []
            for n in range(SENTENCES):
                start = time.perf_counter()
                first: float | None = None
                async for _ in provider.synthesize(f"Sentence number {n}."):
                    if first is None:
                        first = time.perf_counter() - start
                assert first is not None
                samples.append(first * 1000)
        finally:
            await provider.close()
            await fake.stop()
        label = vendor + (" (websocket)" if options else "")
        results[label] = statistics.median(samples)
    return results


def main() -> None:
    print("Outbound µs per 20 ms frame to a µ-law 8 kHz leg (median):")
    for name, value in outbound_costs().items():
        print(f"  {name:38s} {value:7.2f} µs")
    print(f"Client time to first audio against the fakes (median of {SENTENCES}, loopback):")
    for name, value in asyncio.run(first_audio_ms()).items():
        print(f"  {name:38s} {value:7.2f} ms")


if __name__ == "__main__":
    main()
