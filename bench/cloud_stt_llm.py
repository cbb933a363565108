"""Cloud STT and LLM client costs, measured against the local vendor fakes (loopback, no TLS).

    uv run --frozen --no-sync python -m bench.cloud_stt_llm

1. CPU per 20 ms caller frame to build each streaming STT vendor's audio message (µ-law
   encode, base64, JSON where the vendor wants it) and to pass the webrtcvad speech gate the
   utterance vendors and OpenAI use: the per-call cost of listening.
2. End of speech -> final transcript per STT vendor, median over utterances on one
   connection: the fakes answer at once, so this is our stack plus loopback (real figures
   add the vendor's recognition time and the network).
3. Request -> first token per LLM vendor, median over requests: our stack plus loopback.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from providers import builtin
from providers.base import LLMProvider, Message, ProviderConfig, STTProvider
from providers.registry import build
from providers.stt.speech_gate import SpeechGate
from providers.stt.streaming import StreamingSTT
from tests.fakes.anthropic_messages import FakeAnthropic
from tests.fakes.dashscope_asr import FakeDashScopeASR
from tests.fakes.deepgram_listen import FakeDeepgram
from tests.fakes.elevenlabs_stt import FakeElevenLabsSTT
from tests.fakes.fish_audio_asr import FakeFishAudio
from tests.fakes.gemini_generate import FakeGemini
from tests.fakes.moonshot_chat import FakeMoonshot
from tests.fakes.openai_compatible import FakeOpenAI
from tests.fakes.openai_realtime import FakeOpenAIAudio
from tests.fakes.whisper_transcriptions import FakeTranscriptionServer
from tests.media.speechlike import speechlike

RATE = 8000
FRAME_BYTES = RATE * 20 // 1000 * 2
FRAMES = 5000
UTTERANCES = 20
REQUESTS = 30

STT_FAKES: dict[str, Any] = {
    "deepgram": FakeDeepgram,
    "openai": FakeOpenAIAudio,
    "elevenlabs": FakeElevenLabsSTT,
    "qwen": FakeDashScopeASR,
    "whisper": FakeTranscriptionServer,
    "fish_audio": FakeFishAudio,
}
LLM_FAKES: dict[str, Any] = {
    "openai": FakeOpenAI,
    "kimi": FakeMoonshot,
    "claude": FakeAnthropic,
    "gemini": FakeGemini,
}


def _config(vendor: str, fake: Any) -> ProviderConfig:
    return ProviderConfig(vendor=vendor, api_key=fake.api_key, options={"base_url": fake.base_url})


def frame_costs() -> None:
    speech = speechlike(RATE, [(True, FRAMES * 20)])
    frames = [speech[i : i + FRAME_BYTES] for i in range(0, len(speech), FRAME_BYTES)]
    print(f"1. CPU per 20 ms frame (median of 5 runs over {FRAMES} frames)")
    for vendor in ("deepgram", "openai", "elevenlabs", "qwen"):
        provider = build("stt", ProviderConfig(vendor=vendor, api_key="k"))
        assert isinstance(provider, StreamingSTT)
        runs = []
        for _ in range(5):
            start = time.perf_counter()
            for frame in frames:
                provider.audio_message(frame)
            runs.append((time.perf_counter() - start) / len(frames) * 1e6)
        print(f"   {vendor:<11} audio message   {statistics.median(runs):6.1f} µs")
    runs = []
    for _ in range(5):
        gate = SpeechGate(RATE)
        out = bytearray()
        start = time.perf_counter()
        for frame in frames:
            gate.push(frame, out)
        runs.append((time.perf_counter() - start) / len(frames) * 1e6)
    print(f"   {'speech gate':<11} webrtcvad       {statistics.median(runs):6.1f} µs")


async def _final_latency(vendor: str, fake: Any) -> list[float]:
    provider = build("stt", _config(vendor, fake))
    assert isinstance(provider, STTProvider)
    await provider.connect()
    transcripts = provider.transcripts()
    speech = speechlike(RATE, [(True, 400), (False, 300)])
    latencies = []
    for _ in range(UTTERANCES):
        for i in range(0, len(speech), FRAME_BYTES):
            await provider.send_audio(speech[i : i + FRAME_BYTES])
        await asyncio.sleep(0.02)  # let partials drain, as real time would
        start = time.perf_counter()
        await provider.end_utterance()
        while not (await anext(transcripts)).is_final:
            pass
        latencies.append((time.perf_counter() - start) * 1000)
    await provider.close()
    return latencies


async def _first_token(vendor: str, fake: Any) -> list[float]:
    provider = build("llm", _config(vendor, fake))
    assert isinstance(provider, LLMProvider)
    history = [Message("user", "When are you open tomorrow?")]
    latencies = []
    for _ in range(REQUESTS):
        start = time.perf_counter()
        stream = provider.stream(history, "Be brief.")
        await anext(stream)
        latencies.append((time.perf_counter() - start) * 1000)
        async for _ in stream:
            pass
    await provider.close()
    return latencies


async def network_latencies() -> None:
    print(f"2. End of speech -> final transcript (median of {UTTERANCES}, loopback fakes)")
    for vendor, factory in STT_FAKES.items():
        fake = factory()
        await fake.start()
        try:
            latencies = await _final_latency(vendor, fake)
        finally:
            await fake.stop()
        print(f"   {vendor:<11} {statistics.median(latencies):6.2f} ms")
    print(f"3. Request -> first token (median of {REQUESTS}, loopback fakes)")
    for vendor, factory in LLM_FAKES.items():
        fake = factory()
        await fake.start()
        try:
            latencies = await _first_token(vendor, fake)
        finally:
            await fake.stop()
        print(f"   {vendor:<11} {statistics.median(latencies):6.2f} ms")


def main() -> None:
    builtin.load_all()
    frame_costs()
    asyncio.run(network_latencies())


if __name__ == "__main__":
    main()
